// Command loadgen drives a running smsrouter through its public API and
// reports accept throughput and latency, then how long the accepted messages
// take to reach a final status. It imports nothing from smsrouter: it is an
// application like any other.
//
//	go run ./examples/loadgen -url http://127.0.0.1:3005 -key api_live_... -n 5000 -c 32
package main
