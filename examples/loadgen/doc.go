// Command loadgen drives a running smsrouter through its public API and
// reports accept throughput, latency and the server's CPU time per message,
// then (unless -wait 0) how long the accepted messages take to reach a
// final status. It imports nothing from smsrouter: it is an application like any
// other.
//
//	go run ./examples/loadgen -url http://127.0.0.1:3005 -key api_live_... -n 20000 -c 50 -server-pid 1234 -wait 0
//	go run ./examples/loadgen -key api_live_... -bulk 500 -n 200000 -c 10 -wait 0
//
// Single sends vary the text, so duplicate suppression does not refuse
// them; bulk sends vary the recipients. -n bounds the messages and
// -duration the time, whichever comes first.
package main
