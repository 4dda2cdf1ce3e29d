// Package recordid makes the prefixed ids of the host's records (messages,
// accounts, keys, codes, events): random, or led by their second for the
// records written at the rate of traffic.
package recordid
