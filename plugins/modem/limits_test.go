package modem_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestPacingSpacesMessagesOnAPort(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	s := fast(m.Path())
	s["send_interval"] = "150ms"
	h := start(t, s)
	h.ready(t, 1)
	var at []time.Time
	for i := range 3 {
		if res := h.send(t, sdk.Message{ID: fmt.Sprint(i), To: "+4791234567", Text: "paced"}); res.Outcome != sdk.Accepted {
			t.Fatalf("result = %+v", res)
		}
		at = append(at, submitted(t, m).At)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 150*time.Millisecond {
			t.Errorf("messages %d and %d %s apart, want at least 150ms", i-1, i, gap)
		}
	}
}

func TestDailyLimitMovesMessagesToAnotherPort(t *testing.T) {
	a := modemtest.New(t, modemtest.Options{})
	b := modemtest.New(t, modemtest.Options{})
	h := start(t, fast(map[string]any{"path": a.Path(), "max_per_day": 1}, map[string]any{"path": b.Path(), "max_per_day": 1}))
	h.ready(t, 2)
	for i := range 2 {
		if res := h.send(t, sdk.Message{ID: fmt.Sprint(i), To: "+4791234567", Text: "x"}); res.Outcome != sdk.Accepted {
			t.Fatalf("message %d: %+v", i, res)
		}
	}
	if len(a.Sent()) != 1 || len(b.Sent()) != 1 {
		t.Errorf("a sent %d, b sent %d; want one each", len(a.Sent()), len(b.Sent()))
	}
	res := h.send(t, sdk.Message{ID: "third", To: "+4791234567", Text: "x"})
	if res.Outcome != sdk.OutcomeUnavailable || res.Code != "NO_PORT" {
		t.Errorf("both ports at their limit: %+v", res)
	}
}

func TestValidityGoesIntoThePDU(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	h := start(t, fast(m.Path()))
	h.ready(t, 1)
	res := h.send(t, sdk.Message{ID: "v", To: "+4791234567", Text: "x", ValidUntil: time.Now().Add(2 * time.Hour)})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	s := submitted(t, m)
	if s.TPDU.VP.Format != tpdu.VpfRelative || s.TPDU.VP.Duration < 90*time.Minute || s.TPDU.VP.Duration > 2*time.Hour {
		t.Errorf("validity period = %+v, want about 2h relative", s.TPDU.VP)
	}
	res = h.send(t, sdk.Message{ID: "late", To: "+4791234567", Text: "x", ValidUntil: time.Now().Add(-time.Second)})
	if res.Outcome != sdk.OutcomeExpired {
		t.Errorf("expired message: %+v", res)
	}
}

func TestRecipientsOperatorPrefersItsSIM(t *testing.T) {
	telia := modemtest.New(t, modemtest.Options{Operator: "Telia"})
	telenor := modemtest.New(t, modemtest.Options{Operator: "Telenor N"})
	s := fast(telia.Path(), telenor.Path())
	s["operator_prefixes"] = map[string]string{"+4746": "Telenor"}
	h := start(t, s)
	h.ready(t, 2)
	cases := []struct {
		to   string
		want *modemtest.Modem
	}{
		{"+4790123456", telenor}, // libphonenumber: Telenor Norge
		{"+4792123456", telia},   // libphonenumber: Telia
		{"+4746123456", telenor}, // operator_prefixes
	}
	for _, tc := range cases {
		for i := range 3 {
			res := h.send(t, sdk.Message{ID: fmt.Sprint(tc.to, i), To: tc.to, Text: "on-net"})
			if res.Outcome != sdk.Accepted {
				t.Fatalf("%s: %+v", tc.to, res)
			}
			if s := submitted(t, tc.want); s.To != tc.to {
				t.Errorf("%s went out as %+v", tc.to, s)
			}
		}
	}
	if len(telia.Sent())+len(telenor.Sent()) != 0 {
		t.Errorf("a message went out on the other operator's SIM")
	}
}

// A Send answers within its deadline even when a modem is slow: the part
// on the line stops waiting just before it, and nothing new starts.
func TestSendAnswersWithinItsDeadline(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	s := fast(m.Path())
	s["send_timeout"] = "60s"
	s["health_interval"] = "1h"
	h := start(t, s)
	h.ready(t, 1)
	m.SetLatency(10 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	began := time.Now()
	res, err := h.p.Send(ctx, []sdk.Message{
		{ID: "a", To: "+4791234567", Text: "slow"},
		{ID: "b", To: "+4791234567", Text: "behind it"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Send took %s with a 2s deadline", took)
	}
	for _, r := range res {
		if r.Outcome == sdk.Accepted || r.Outcome == sdk.Permanent {
			t.Errorf("result %+v: want a retried outcome", r)
		}
	}
}

// With smsc set, each PDU carries the service centre's address, whose
// length the modem checks against +CMGS's (a wrong one is +CMS ERROR: 304).
func TestSMSCGoesIntoEachPDU(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	s := fast(m.Path())
	s["smsc"] = "+4790002100"
	h := start(t, s)
	h.ready(t, 1)
	res := h.send(t, sdk.Message{ID: "smsc", To: "+4791234567", Text: strings.Repeat("long ", 40)})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	for range 2 {
		submitted(t, m)
	}
}
