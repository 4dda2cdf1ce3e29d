package android_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"

	"github.com/smsrouter/smsrouter/plugins/android/phonetest"
	"github.com/smsrouter/smsrouter/sdk"
)

// simulated starts a phone of the simulator against g.
func (g *gateway) simulated(t *testing.T, opts phonetest.Options) *phonetest.Phone {
	t.Helper()
	opts.PrivateToken = privateToken
	ph := phonetest.New(t, g.host.URL()+"/mobile/v1", opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ph.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return ph
}

func within(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSIMChoice sends to numbers two phones' SIMs serve: each goes through
// the phone whose SIM prefix fits, on that SIM.
func TestSIMChoice(t *testing.T) {
	g := newGateway(t, `,"phones":[
		{"name":"atom","sims":[{"slot":1,"prefixes":["+95979"]},{"slot":2,"number":"+959250000001","prefixes":["+95925"]}]},
		{"name":"mpt","sims":[{"slot":1,"prefixes":["+95942"]}]}]`)
	atom := g.simulated(t, phonetest.Options{Name: "atom", SIMs: []phonetest.SIM{{Number: "+959790000001"}, {Number: "+959250000001"}}})
	mpt := g.simulated(t, phonetest.Options{Name: "mpt", SIMs: []phonetest.SIM{{Number: "+959420000001"}}})
	cases := []struct {
		to    string
		phone *phonetest.Phone
		slot  uint8
	}{
		{"+959791234567", atom, 1},
		{"+959251234567", atom, 2},
		{"+959421234567", mpt, 1},
	}
	for i, c := range cases {
		id := fmt.Sprintf("msg_sim%d", i)
		res, err := g.p.Send(within(t), []sdk.Message{msg(id, c.to)})
		if err != nil || res[0].Outcome != sdk.Accepted {
			t.Fatalf("%s: %+v %v", c.to, res, err)
		}
		select {
		case m := <-c.phone.Received():
			if m.ID != id || m.SimNumber == nil || *m.SimNumber != c.slot {
				t.Errorf("%s went as %s on SIM %v, want %s on SIM %d", c.to, m.ID, m.SimNumber, id, c.slot)
			}
		case <-within(t).Done():
			t.Fatalf("%s: phone %s did not get it", c.to, c.phone.Name())
		}
	}
	// What the app reported and what the operator configured, together.
	for _, ph := range g.p.Phones() {
		if ph.Name == "atom" && (len(ph.SIMs) != 2 || ph.SIMs[1].Number != "+959250000001" || ph.SIMs[0].Number != "+959790000001") {
			t.Errorf("atom's SIMs = %+v", ph.SIMs)
		}
	}
}

// TestPacing gives a phone no more than rate_limit messages a period: the
// next is answered RetryAfter with the wait until the phone has room.
func TestPacing(t *testing.T) {
	g := newGateway(t, `,"rate_limit":2,"rate_period":"1h","lease":"2s"`)
	g.simulated(t, phonetest.Options{Name: "one"})
	res, err := g.p.Send(within(t), []sdk.Message{msg("msg_p1", "+959791234567"), msg("msg_p2", "+959791234568"), msg("msg_p3", "+959791234569")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Outcome != sdk.Accepted || res[1].Outcome != sdk.Accepted {
		t.Errorf("first two = %+v", res[:2])
	}
	if r := res[2]; r.Outcome != sdk.Temporary || r.RetryAfter < 59*time.Minute || r.Code != "PHONE_LIMIT" {
		t.Errorf("third = %+v, want RetryAfter about an hour", r)
	}
}

// TestPhoneVanishesAfterTakingAMessage: a phone takes a message and goes
// silent before the radio answers; its reports arrive when it comes back.
func TestPhoneVanishesAfterTakingAMessage(t *testing.T) {
	g := newGateway(t, "")
	ph := g.simulated(t, phonetest.Options{Name: "flaky", DuplicatePatches: 1})
	gone := ph.GoSilentAfter(smsgateway.ProcessingStateProcessed)
	res, err := g.p.Send(within(t), []sdk.Message{msg("msg_v", "+959791234567")})
	if err != nil || res[0].Outcome != sdk.Accepted {
		t.Fatalf("send = %+v, %v", res, err)
	}
	<-gone
	ph.Reconnect()
	want := map[string]bool{"msg_v/sent": true, "msg_v/delivered": true}
	if !g.host.waitFor(within(t), func(evs []sdk.Event) bool { return hasEvents(evs, want) }) {
		t.Fatalf("events = %v", eventIDs(g.host.stored()))
	}
	if err := ph.ReplayPatches(within(t)); err != nil {
		t.Errorf("replayed reports refused: %v", err)
	}
}

// TestInbound: an SMS arriving at a phone becomes an inbound message to
// the receiving SIM's number, with an id the host deduplicates within the
// window only.
func TestInbound(t *testing.T) {
	g := newGateway(t, `,"inbound_dedup_window":"2m"`)
	ph := g.simulated(t, phonetest.Options{Name: "in", SIMs: []phonetest.SIM{{Number: "+959790000001"}, {Number: "+959250000001"}}})
	if err := ph.WaitWebhooks(within(t), smsgateway.WebhookEventSmsReceived); err != nil {
		t.Fatal(err)
	}
	// The phone signs with the key from GET /settings once it fetched them,
	// and is told to wait for work on the event stream, not for pushes.
	err := ph.WaitFor(within(t), "settings with a signing key and SSE only", func(v phonetest.View) bool {
		s := v.Settings()
		return s.Webhooks != nil && s.Webhooks.SigningKey != nil &&
			s.Gateway != nil && s.Gateway.NotificationChannel != nil && *s.Gateway.NotificationChannel == "SSE_ONLY"
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	for range 2 { // the app posts the same SMS twice: one id
		if err := ph.Inject(within(t), phonetest.Inbound{From: "+959791111111", Text: "YES", SIM: 2, At: at}); err != nil {
			t.Fatal(err)
		}
	}
	evs := g.host.stored()
	var in []sdk.Event
	for _, e := range evs {
		if e.Inbound != nil {
			in = append(in, e)
		}
	}
	if len(in) != 2 || in[0].ID != in[1].ID || !strings.HasPrefix(in[0].ID, "in/") || in[0].DuplicateWindow != 2*time.Minute {
		t.Fatalf("inbound events = %+v", in)
	}
	if got := in[0].Inbound; got.From != "+959791111111" || got.To != "+959250000001" || got.Text != "YES" || !got.At.Equal(at) {
		t.Errorf("inbound = %+v", got)
	}
}

// TestBatchSpreadsOverPhones: the messages of one batch go round the
// online phones, least recently used first. Regression: phones given a
// message in the same instant tied, and the tie went to the same phone for
// the rest of the batch.
func TestBatchSpreadsOverPhones(t *testing.T) {
	g := newGateway(t, "")
	phones := phonetest.Fleet(t, g.host.URL()+"/mobile/v1", 4, "rr", "+15550000001", phonetest.Options{PrivateToken: privateToken})
	for _, ph := range phones {
		if err := ph.WaitConnected(within(t)); err != nil {
			t.Fatal(err)
		}
	}
	g.sendAllAccepted(t, "msg_rr", 12)
	for _, ph := range phones {
		n := 0
		for range 3 {
			select {
			case <-ph.Received():
				n++
			case <-within(t).Done():
			}
		}
		if n != 3 {
			t.Errorf("phone %s got %d of 12 messages, want 3", ph.Name(), n)
		}
		select {
		case m := <-ph.Received():
			t.Errorf("phone %s got a fourth message %s", ph.Name(), m.ID)
		default:
		}
	}
}

// sendAllAccepted sends n messages with ids prefix000, prefix001, … in one
// batch and fails the test unless every one is answered Accepted.
func (g *gateway) sendAllAccepted(t *testing.T, prefix string, n int) {
	t.Helper()
	var msgs []sdk.Message
	for i := range n {
		msgs = append(msgs, msg(fmt.Sprintf("%s%03d", prefix, i), "+15551234567"))
	}
	res, err := g.p.Send(within(t), msgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != sdk.Accepted {
			t.Fatalf("result %+v", r)
		}
	}
}

// TestQueueLongerThanOnePull: a phone given more messages than one GET
// /message answers takes them all without a lease running out. Regression:
// the answer was capped at 100 and nothing told the phone to pull again
// (the app does not pull after reporting), so the rest starved until
// their lease ran out.
func TestQueueLongerThanOnePull(t *testing.T) {
	const n = 250
	g := newGateway(t, `,"rate_limit":1000,"lease":"5m"`)
	ph := g.simulated(t, phonetest.Options{Name: "busy"})
	g.sendAllAccepted(t, "msg_many", n)
	got := map[string]bool{}
	for len(got) < n {
		select {
		case m := <-ph.Received():
			got[m.ID] = true
		default:
			t.Fatalf("the phone received %d distinct messages, want %d", len(got), n)
		}
	}
}

// TestEachStatusEmittedOnce: a phone reports each state several times (its
// PATCH, that PATCH repeated, its sms:sent and sms:delivered webhooks,
// replays after a reconnect); the host is handed each status event once.
// Regression: every report was emitted again, a round trip to the host and
// a transaction there per repeat, which the host then dropped as seen.
func TestEachStatusEmittedOnce(t *testing.T) {
	g := newGateway(t, "")
	ph := g.simulated(t, phonetest.Options{Name: "chatty", DuplicatePatches: 1})
	if err := ph.WaitWebhooks(within(t), phonetest.EventSmsSent, phonetest.EventSmsDelivered); err != nil {
		t.Fatal(err)
	}
	g.sendAllAccepted(t, "msg_once", 3)
	want := map[string]bool{}
	for i := range 3 {
		want[fmt.Sprintf("msg_once%03d/sent", i)] = true
		want[fmt.Sprintf("msg_once%03d/delivered", i)] = true
	}
	if !g.host.waitFor(within(t), func(evs []sdk.Event) bool { return hasEvents(evs, want) }) {
		t.Fatalf("events = %v", eventIDs(g.host.stored()))
	}
	if err := ph.WaitFor(within(t), "every report posted", func(v phonetest.View) bool { return v.Done() == 3 && v.Held() == 0 }); err != nil {
		t.Fatal(err)
	}
	if err := ph.ReplayPatches(within(t)); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, ev := range g.host.stored() {
		count[ev.ID]++
	}
	for i := range 3 {
		for _, s := range []string{"sent", "delivered"} {
			if id := fmt.Sprintf("msg_once%03d/%s", i, s); count[id] != 1 {
				t.Errorf("event %s emitted %d times, want once (all: %v)", id, count[id], count)
			}
		}
	}
}
