package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// printSummary reports the webhook side of a run and the CPU time its
// processes used from the start to now (the last webhook, or the end of
// the wait).
func printSummary(w io.Writer, s summary, uses []groupUse, run time.Duration) {
	fmt.Fprintf(w, "webhooks: %d accepted, %d sent, %d delivered, %d failed; %d without message.sent, %d without delivered or failed\n",
		s.accepted, s.sent, s.delivered, s.failed, s.neverSent, s.neverEnded)
	if s.delivered > 0 {
		fmt.Fprintf(w, "delivered end to end: %.0f msg/s from the first accept to the last delivered webhook (%s); %.0f msg/s between 10%% and 90%% of that span\n",
			s.deliveredRate, s.lastEnd.Sub(s.firstAccept).Round(time.Millisecond), s.steadyRate)
	}
	for _, l := range []struct {
		name string
		d    []time.Duration
	}{{"accept to sent     ", s.toSent}, {"accept to delivered", s.toDelivered}} {
		if len(l.d) > 0 {
			fmt.Fprintf(w, "%s p50 %s  p95 %s  p99 %s  max %s\n", l.name, pct(l.d, 50), pct(l.d, 95), pct(l.d, 99), pct(l.d, 100))
		}
	}
	fmt.Fprintf(w, "exactly once: %d duplicate deliveries (event id seen before), %d repeated events (same message and type, new event id)\n",
		s.duplicates, s.repeats)
	fmt.Fprintf(w, "bad signatures: %d%s\n", s.badSigs, counts(s.badReasons))
	if s.unknown > 0 || len(s.otherTypes) > 0 {
		fmt.Fprintf(w, "also received: events of %d messages this run did not accept%s\n", s.unknown, counts(s.otherTypes))
	}
	if len(uses) == 0 || s.accepted == 0 {
		return
	}
	var smsrouter, database, together time.Duration
	var parts []string
	hasDatabase := false
	for _, u := range uses {
		together += u.cpu
		switch u.name {
		case "database":
			database += u.cpu
			hasDatabase = true
		default:
			smsrouter += u.cpu
			parts = append(parts, fmt.Sprintf("%s %s in %d process(es)", u.name, u.cpu.Round(time.Millisecond), u.processes))
		}
	}
	fmt.Fprintf(w, "CPU from the start to the last webhook (or the end of the wait), %s, per accepted message:", run.Round(time.Millisecond))
	if len(parts) > 0 {
		fmt.Fprintf(w, " smsrouter %.3f CPU-ms (%s);", perMessage(smsrouter, s.accepted), strings.Join(parts, ", "))
	}
	if hasDatabase {
		fmt.Fprintf(w, " database %.3f CPU-ms (%s);", perMessage(database, s.accepted), database.Round(time.Millisecond))
	}
	fmt.Fprintf(w, " together %.3f CPU-ms (%.0f%% of one core)\n", perMessage(together, s.accepted), 100*together.Seconds()/run.Seconds())
}

func counts(m map[string]int) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(out) == 0 {
		return ""
	}
	return " (" + strings.Join(out, ", ") + ")"
}

// check fails the run when delivery was not exactly once: a message
// without its final webhook, a duplicate, or a request that did not verify.
func (s summary) check() error {
	var errs []error
	if s.neverEnded > 0 {
		errs = append(errs, fmt.Errorf("%d of %d accepted messages got no delivered or failed webhook", s.neverEnded, s.accepted))
	}
	if s.duplicates+s.repeats > 0 {
		errs = append(errs, fmt.Errorf("%d events arrived more than once", s.duplicates+s.repeats))
	}
	if s.badSigs > 0 {
		errs = append(errs, fmt.Errorf("%d webhook requests failed verification", s.badSigs))
	}
	return errors.Join(errs...)
}
