package modem_test

import (
	"context"
	"path/filepath"
	"testing"

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
