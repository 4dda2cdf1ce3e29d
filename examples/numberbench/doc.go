// Command numberbench measures number assignment under contention through
// a running smsrouter's virtual-number API (seed 001), as its clients call
// it: concurrent GET /api/get-number requests until none is left or -n are
// assigned, then the assignment rate, the latency, and whether any number
// was handed out twice (which makes it exit 1). It imports nothing from
// smsrouter: it is an application like any other.
//
//	go run ./examples/numberbench -url http://127.0.0.1:3005 -key api_live_... -seed 20000 -c 50
//
// -seed N first adds N US numbers (+1 201 555 0000 upward, ten thousand per
// area code) to the inventory through POST /api/v1/admin/numbers, which
// needs a system_admin key (-admin-key, default -key); numbers already
// there are kept. -url may list several servers sharing one database,
// comma-separated: the clients are spread over them, and a number handed
// out by two servers counts as handed out twice. -bearer sends the key in
// the Authorization header (the form the docs recommend) instead of the
// path.
package main
