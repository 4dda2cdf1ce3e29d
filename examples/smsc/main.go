package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2776", "address to listen on (loopback by default)")
	systemID := flag.String("system-id", "", "only accept this system_id (empty: any credentials)")
	password := flag.String("password", "", "password for -system-id")
	window := flag.Int("window", 0, "most unanswered submits per session; 0 = no limit")
	latency := flag.Duration("latency", 0, "delay before each submit_sm_resp")
	throttle := flag.Int("throttle", 0, "submits accepted per second before ESME_RTHROTTLED; 0 = no limit")
	receiptDelay := flag.Duration("receipt-delay", time.Second, "time from acceptance to the delivery receipt")
	undeliv := flag.String("undeliv-prefix", "", "destinations with this prefix get UNDELIV receipts")
	deliverWindow := flag.Int("deliver-window", 100, "most unanswered deliver_sm (receipts, MO) per session, as real SMSCs limit them")
	report := flag.Duration("report", 10*time.Second, "how often to print counters")
	flag.Parse()

	cfg := smsctest.Config{
		Addr: *listen, SystemID: *systemID, Password: *password, Window: *window,
		Latency: *latency, ThrottleAfter: *throttle, ReceiptDelay: *receiptDelay, DeliverWindow: *deliverWindow,
	}
	if *undeliv != "" {
		cfg.Outcomes = map[string]string{*undeliv: "UNDELIV"}
	}
	srv, err := smsctest.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smsc:", err)
		os.Exit(1)
	}
	srv.KeepSubmits(false) // a long demo must not grow without bound
	fmt.Fprintf(os.Stderr, "smsc: SMPP 3.4 simulator listening on %s\n", srv.Addr())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	t := time.NewTicker(*report)
	defer t.Stop()
	for {
		select {
		case <-stop:
			srv.Close()
			fmt.Fprintf(os.Stderr, "smsc: stopped: %+v\n", srv.Stats())
			return
		case <-t.C:
			fmt.Fprintf(os.Stderr, "smsc: %+v\n", srv.Stats())
		}
	}
}
