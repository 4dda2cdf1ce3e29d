package modem_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

// Regression: status reports that came after a restart of the plugin were
// not matched (the matching lived in memory) and the message ended unknown.
func TestReportAfterRestartIsMatchedOnce(t *testing.T) {
	held := make(chan modemtest.Submitted, 10)
	m := modemtest.New(t, modemtest.Options{OwnNumber: "+4790000001",
		ReportStatus: func(s modemtest.Submitted) (byte, bool) { held <- s; return 0, false }})
	settings := fast(m.Path())
	settings["state_file"] = filepath.Join(t.TempDir(), "modems.state")

	before := start(t, settings)
	before.ready(t, 1)
	res := before.send(t, sdk.Message{ID: "msg-1", To: "+4791234567", Text: "sent before the restart"})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	part := submitted(t, m)
	<-held
	if err := before.p.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}

	after := start(t, settings)
	after.ready(t, 1)
	m.SendStatusReport(part, 0x00)
	ev := after.event(t)
	if ev.Status == nil || ev.Status.ProviderMessageID != res.ProviderMessageID || ev.Status.Status != sdk.StatusDelivered {
		t.Fatalf("event = %+v, want delivered for %s", ev, res.ProviderMessageID)
	}

	// The same report again, then another message's: the next event is
	// the other message's, so the first was reported once.
	m.SendStatusReport(part, 0x00)
	res2 := after.send(t, sdk.Message{ID: "msg-2", To: "+4791234568", Text: "sent after the restart"})
	part2 := submitted(t, m)
	<-held
	m.SendStatusReport(part2, 0x00)
	ev = after.event(t)
	if ev.Status == nil || ev.Status.ProviderMessageID != res2.ProviderMessageID {
		t.Fatalf("event = %+v, want only the report for %s", ev, res2.ProviderMessageID)
	}
	select {
	case ev := <-after.events:
		t.Fatalf("event %+v: a report was emitted twice", ev)
	default:
	}
}

// Regression: the journal's "end" line for a message was written when its
// last status report was matched, before the host stored the event; a
// crash in between lost the delivered. Now the message stays in the
// journal until the host stored its event, and a restart emits it again.
func TestReportNotStoredBeforeACrashIsEmittedAfterRestart(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{OwnNumber: "+4790000001"})
	settings := fast(m.Path())
	settings["state_file"] = filepath.Join(t.TempDir(), "modems.state")

	offered := make(chan sdk.Event, 10)
	before := startHost(t, settings, func(ev sdk.Event) error {
		offered <- ev
		return errors.New("the host's database is down")
	})
	before.ready(t, 1)
	res := before.send(t, sdk.Message{ID: "msg-1", To: "+4791234567", Text: "delivered, then the plugin crashed"})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	var reportedAt time.Time
	select {
	case ev := <-offered: // the report was matched and offered, not stored
		if ev.Status == nil || ev.Status.Status != sdk.StatusDelivered {
			t.Fatalf("offered %+v, want delivered", ev)
		}
		reportedAt = ev.Status.At
	case <-time.After(waitLimit):
		t.Fatal("the delivery report was never offered to the host")
	}
	before.stop() // the plugin goes away with the event unstored

	after := start(t, settings)
	ev := after.event(t)
	if ev.Status == nil || ev.Status.ProviderMessageID != res.ProviderMessageID || ev.Status.Status != sdk.StatusDelivered {
		t.Fatalf("event after the restart = %+v, want delivered for %s", ev, res.ProviderMessageID)
	}
	if reportedAt.IsZero() || !ev.Status.At.Equal(reportedAt) {
		t.Errorf("event after the restart at %v, want the report's own time %v", ev.Status.At, reportedAt)
	}
	after.stop() // the event stream ends once the stored event's journal line is written

	// Stored now: a third start has nothing to emit again.
	again := start(t, settings)
	again.ready(t, 1)
	select {
	case ev := <-again.events:
		t.Fatalf("event %+v emitted again after the host stored it", ev)
	case <-time.After(300 * time.Millisecond): // nothing is expected; a bounded look
	}
}
