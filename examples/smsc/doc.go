// Command smsc runs the SMPP 3.4 SMSC simulator (plugins/smpp/smsctest)
// standalone on loopback, for demos and load runs of the smpp plugin.
//
//	go run ./examples/smsc -listen 127.0.0.1:2776 -system-id demo -password secret -receipt-delay 1s
//
// Point an smpp provider at it (host "127.0.0.1", port 2776, system_id "demo",
// password "secret"). Every accepted message gets a DELIVRD receipt after
// -receipt-delay; destinations starting with -undeliv-prefix get UNDELIV.
// Stop it with Ctrl-C; it prints its counters every -report interval.
package main
