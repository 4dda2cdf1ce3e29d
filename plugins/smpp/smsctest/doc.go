// Package smsctest is an SMSC simulator that speaks SMPP 3.4 over TCP on
// loopback, for the smpp plugin's tests, benchmarks and demos: bind
// authentication, window enforcement, response latency, throttling, error
// injection per destination prefix, delivery receipts with a delay and an
// outcome, inbound (mobile-originated) messages and dropped connections.
package smsctest
