package smpp_test

import (
	"strings"
	"testing"

	"github.com/linxGnu/gosmpp/data"

	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestAlwaysThrottledMessageDoesNotBlockTheBind: an SMSC that answers
// ESME_RTHROTTLED to every submit of one message must not keep the others
// waiting behind it, and the message's error says what the SMSC answered.
func TestAlwaysThrottledMessageDoesNotBlockTheBind(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{Errors: map[string]uint32{"1999": uint32(data.ESME_RTHROTTLED)}})
	// One submit in flight: the throttled message would hold the only
	// slot. The first throttle cuts the fresh link's rate to 1/s, from
	// which it climbs back (see pacer.go), hence 6 s for 8 messages.
	p := newProvider(t, srv, map[string]any{"window": 1, "queue_timeout": "6s"})
	bad := sendWithOneBad(t, p, "+19995550000", 8)
	if bad.Outcome != sdk.Temporary || bad.Code != "0x00000058" || !strings.Contains(bad.Reason, "ESME_RTHROTTLED") {
		t.Errorf("throttled message: %+v; want Temporary with code 0x00000058 naming ESME_RTHROTTLED", bad)
	}
	// Its own backoff (0.1 s doubling) allows a handful of tries, where
	// sending it at the head of the line tried it every pause.
	st := srv.Stats()
	if st.Throttled > 7 {
		t.Errorf("the throttled message was submitted %d times; want its own backoff", st.Throttled)
	}
	t.Logf("throttled message submitted %d times; %d others accepted", st.Throttled, st.Accepted)
}

// TestMessageThatDropsTheLinkIsHeldBack: a message the SMSC falls over on
// is sent again on the next bind only a few times, alone, then answered
// Temporary so the host can fail over; the messages sent with it go
// through.
func TestMessageThatDropsTheLinkIsHeldBack(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{DropOnDest: []string{"1666"}})
	p := newProvider(t, srv, map[string]any{"window": 5, "queue_timeout": "5s"})
	bad := sendWithOneBad(t, p, "+16665550000", 8)
	if bad.Outcome != sdk.Temporary || bad.Code != "CONNECTION_DROPPED" || !strings.Contains(bad.Reason, "3 times") {
		t.Errorf("poison message: %+v; want Temporary CONNECTION_DROPPED after 3 drops", bad)
	}
	if st := srv.Stats(); st.DropsOnDest != 3 {
		t.Errorf("the SMSC dropped the link %d times on the poison message; want 3", st.DropsOnDest)
	}
	// The link is up again for what follows.
	if r := send(t, p, messages("msg_drop_after_", 1, "after"))[0]; r.Outcome != sdk.Accepted {
		t.Errorf("message after the poison one: %+v", r)
	}
}

// TestSMSCInitiatedUnbindIsAnswered: when the SMSC unbinds, it gets its
// unbind_resp before the connection closes, and the plugin binds again.
func TestSMSCInitiatedUnbindIsAnswered(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	newProvider(t, srv, nil)
	for round := int64(1); round <= 3; round++ {
		awaitStats(t, srv, "a bind", func(st smsctest.Stats) bool { return st.Binds == round })
		srv.Unbind()
		awaitStats(t, srv, "the unbind_resp", func(st smsctest.Stats) bool { return st.UnbindResps == round })
	}
	awaitStats(t, srv, "the bind after the last unbind", func(st smsctest.Stats) bool { return st.Binds == 4 })
}

// sendWithOneBad sends a message to badTo first and n others after it in
// one batch, checks the others are accepted, and returns the first's result.
func sendWithOneBad(t *testing.T, p *smpp.Provider, badTo string, n int) sdk.SendResult {
	t.Helper()
	msgs := append([]sdk.Message{{ID: "msg_bad", To: badTo, Text: "the bad one", Encoding: sdk.EncodingGSM7, Segments: 1}},
		messages("msg_ok_", n, "an innocent one")...)
	res := send(t, p, msgs)
	for i, r := range res[1:] {
		if r.Outcome != sdk.Accepted {
			t.Errorf("message %d sent with the bad one: %s %s %s", i, r.Outcome, r.Code, r.Reason)
		}
	}
	return res[0]
}
