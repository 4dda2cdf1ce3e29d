package main

import (
	"os"
	"runtime/debug"
	"strconv"
)

// serveGCPercent is the garbage collector's target for `smsrouter serve`
// when the environment does not set GOGC: the heap may grow to five times
// what is live before a collection, instead of twice (Go's default, 100).
//
// The server's work is short-lived allocations (requests, rows, webhook
// bodies) over a small live heap, so collections are frequent and each
// one cheap to postpone: end to end it cut smsrouter's CPU per message
// and raised what it carries, for about twice the peak resident size
// (figures in docs/performance.md, fourth round). Hosts short of memory
// set GOGC (100 is Go's default) or GOMEMLIMIT, which the runtime honours
// as always.
const serveGCPercent = 400

// setServeGC applies serveGCPercent unless GOGC is set, and returns the
// target in force and whether it is this default.
func setServeGC(lookupEnv func(string) (string, bool)) (percent string, isDefault bool) {
	if v, ok := lookupEnv("GOGC"); ok {
		return v, false
	}
	debug.SetGCPercent(serveGCPercent)
	return strconv.Itoa(serveGCPercent), true
}

// gcDefault is set by main when `serve` runs with serveGCPercent.
var gcDefault bool

// gcInForce names the collector's target, for the start-up log line.
func gcInForce() string {
	if gcDefault {
		return strconv.Itoa(serveGCPercent)
	}
	if v, ok := os.LookupEnv("GOGC"); ok {
		return v
	}
	return "100"
}
