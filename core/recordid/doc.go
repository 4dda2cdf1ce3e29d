// Package recordid makes the random, prefixed ids of the host's records
// (messages, accounts, keys, codes, events).
package recordid
