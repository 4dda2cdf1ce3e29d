// Package numbers keeps the rules of the numbers applications lease to
// receive messages on: a number's states and how it moves between them
// (available → assigned → quarantined → available), who owns a message
// sent to it, the stable numeric ids of countries and operators the
// virtual-number API speaks, the formats it returns numbers in, and the
// sweeper that ends leases and quarantines; the store keeps the rows.
package numbers
