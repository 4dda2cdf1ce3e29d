package modem_test

import (
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestSendReportsDeliveredAfterEveryPart(t *testing.T) {
	cases := []struct {
		name     string
		text     string
		encoding sdk.Encoding
		parts    int
	}{
		{"gsm7 single", "Hello from a modem {€}", sdk.EncodingGSM7, 1},
		{"gsm7 long", strings.Repeat("0123456789", 35), sdk.EncodingGSM7, 3},
		{"ucs2 long", strings.Repeat("Привет мир ", 10), sdk.EncodingUCS2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			held := make(chan modemtest.Submitted, 10)
			m := modemtest.New(t, modemtest.Options{OwnNumber: "+4790000001",
				// Reports are sent by the test, part by part.
				ReportStatus: func(s modemtest.Submitted) (byte, bool) { held <- s; return 0, false }})
			h := start(t, fast(m.Path()))
			h.ready(t, 1)
			res := h.send(t, sdk.Message{ID: "msg-1", To: "+4791234567", Text: tc.text, Encoding: tc.encoding})
			if res.Outcome != sdk.Accepted || res.ProviderMessageID == "" || res.Sender != "+4790000001" {
				t.Fatalf("result = %+v", res)
			}
			var parts []modemtest.Submitted
			var text strings.Builder
			refs := map[int]bool{}
			for range tc.parts {
				s := submitted(t, m)
				if !s.StatusReport || s.To != "+4791234567" {
					t.Errorf("part %+v: want a status report requested, to +4791234567", s)
				}
				parts = append(parts, s)
				text.WriteString(s.Text)
				refs[s.ConcatRef] = true
			}
			if text.String() != tc.text {
				t.Errorf("parts carry %q, want %q", text.String(), tc.text)
			}
			if tc.parts > 1 && (len(refs) != 1 || parts[0].ConcatTotal != tc.parts) {
				t.Errorf("parts %+v: want one concatenation reference and %d parts", parts, tc.parts)
			}
			for i, s := range parts {
				<-held
				m.SendStatusReport(s, 0x00)
				if i < len(parts)-1 {
					// Every part but the last: no event yet.
					select {
					case ev := <-h.events:
						t.Fatalf("event %+v before the last part's report", ev)
					default:
					}
				}
			}
			ev := h.event(t)
			if ev.Status == nil || ev.Status.ProviderMessageID != res.ProviderMessageID || ev.Status.Status != sdk.StatusDelivered {
				t.Fatalf("event = %+v, want delivered for %s", ev, res.ProviderMessageID)
			}
		})
	}
}

func TestFailedPartMakesTheMessageUndeliverable(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{ReportStatus: func(s modemtest.Submitted) (byte, bool) {
		if s.ConcatSeq == 2 {
			return 0x43, true // not obtainable
		}
		return 0x00, true
	}})
	h := start(t, fast(m.Path()))
	h.ready(t, 1)
	res := h.send(t, sdk.Message{ID: "msg-2", To: "+4791234567", Text: strings.Repeat("x", 200)})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	ev := h.event(t)
	if ev.Status == nil || ev.Status.Status != sdk.StatusUndeliverable || ev.Status.ErrorCode != "TP-ST 43" {
		t.Fatalf("event = %+v", ev.Status)
	}
}

func TestCMSErrorsMapToOutcomes(t *testing.T) {
	cases := []struct {
		final   string
		outcome sdk.Outcome
		refusal sdk.Refusal
		code    string
	}{
		{"+CMS ERROR: 1", sdk.Permanent, sdk.RefusalInvalidDestination, "CMS 1"},
		{"+CMS ERROR: 28", sdk.Permanent, sdk.RefusalInvalidDestination, "CMS 28"},
		{"+CMS ERROR: 42", sdk.Temporary, "", "CMS 42"},
		{"+CMS ERROR: 332", sdk.Temporary, "", "CMS 332"},
		{"+CMS ERROR: 331", sdk.OutcomeUnavailable, "", "CMS 331"},
		{"+CMS ERROR: 304", sdk.Permanent, sdk.RefusalInvalidMessage, "CMS 304"},
		{"ERROR", sdk.Temporary, "", "ERROR"},
	}
	m := modemtest.New(t, modemtest.Options{})
	h := start(t, fast(m.Path()))
	h.ready(t, 1)
	for _, tc := range cases {
		t.Run(tc.final, func(t *testing.T) {
			h.ready(t, 1) // a port-side error sets the port aside until its next poll
			m.FailNext("+CMGS", tc.final)
			res := h.send(t, sdk.Message{ID: "msg-e", To: "+4791234567", Text: "hi"})
			if res.Outcome != tc.outcome || res.Refusal != tc.refusal || res.Code != tc.code {
				t.Fatalf("result = %+v, want %s %s %s", res, tc.outcome, tc.refusal, tc.code)
			}
			if !strings.Contains(res.Reason, m.Path()) {
				t.Errorf("reason %q does not name the port", res.Reason)
			}
		})
	}
}

func TestInboundReassembledAndDeleted(t *testing.T) {
	cases := []struct {
		name    string
		in      modemtest.Inbound
		want    string
		timeout bool
	}{
		{"single", modemtest.Inbound{From: "+4798765432", Text: "YES"}, "YES", false},
		{"long, reversed", modemtest.Inbound{From: "+4798765432", Text: strings.Repeat("abcdefghij", 20), Reverse: true},
			strings.Repeat("abcdefghij", 20), false},
		{"a part never comes", modemtest.Inbound{From: "+4798765432", Text: strings.Repeat("abcdefghij", 20), Parts: []int{1}},
			strings.Repeat("abcdefghij", 20)[:153], true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := modemtest.New(t, modemtest.Options{OwnNumber: "+4790000001"})
			h := start(t, fast(m.Path()))
			h.ready(t, 1)
			if _, err := m.InjectInbound(tc.in); err != nil {
				t.Fatal(err)
			}
			ev := h.event(t)
			if ev.Inbound == nil || ev.Inbound.Text != tc.want || ev.Inbound.From != tc.in.From || ev.Inbound.To != "+4790000001" {
				t.Fatalf("event = %+v, want %q from %s to +4790000001", ev.Inbound, tc.want, tc.in.From)
			}
			if ev.ID == "" || ev.DuplicateWindow == 0 {
				t.Errorf("event id %q window %s: want a content id with a duplicate window", ev.ID, ev.DuplicateWindow)
			}
			h.waitHealth(t, "stored messages deleted", func(sdk.Health) bool { return m.Stored() == 0 })
		})
	}
}

func TestStoredWhileAwayIsReadAtStart(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{OwnNumber: "+4790000001"})
	m.Unplug()
	if _, err := m.InjectInbound(modemtest.Inbound{From: "+4798765432", Text: "while you were away"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	h := start(t, fast(m.Path()))
	ev := h.event(t)
	if ev.Inbound == nil || ev.Inbound.Text != "while you were away" {
		t.Fatalf("event = %+v", ev)
	}
}
