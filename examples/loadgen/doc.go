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
//
// End to end through webhooks (accept → provider → status → webhook):
//
//	go run ./examples/loadgen -url http://127.0.0.1:3005 -key api_live_... -n 20000 -c 50 \
//	    -webhook 127.0.0.1:3199 -wait 2m -server-pid 1234 -db-cmd postgres
//
// -webhook listens at that address, makes it the key's account webhook
// (PUT /api/v1/webhook; refused if the account's webhook points elsewhere,
// since taking it over would rotate the secret its receiver uses; the
// server's config must allow the address, e.g. webhooks { allowed_networks
// = ["127.0.0.0/8"] }, as webhooks go to public addresses only), checks
// X-Signature on every request and answers 204. After sending it waits up
// to -wait for every accepted message's message.delivered or
// message.failed webhook, then reports the delivered rate (over the whole
// run and between 10% and 90% of it), p50/p95/p99 from each 202 to the
// message.sent and message.delivered webhooks, messages whose webhooks
// never came, events received twice and requests that failed
// verification; any of those three makes it exit 1. It removes the
// webhook at the end unless -keep-webhook.
//
// CPU time is read from Linux /proc: -server-pid counts the server and its
// plugin processes (its descendants), -db-pids the listed processes and
// their descendants, -db-cmd every process with that command name, from
// the start to the last webhook. The database figure includes whatever
// else uses that database server meanwhile. Interrupting (ctrl-C) stops
// sending or waiting and prints what was measured so far.
package main
