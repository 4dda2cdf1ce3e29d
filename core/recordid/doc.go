// Package recordid makes the random, prefixed ids of the host's records
// (messages, accounts, keys, codes, events), random or ordered by time.
package recordid
