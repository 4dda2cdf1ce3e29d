package phonetest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/android/phonetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func msg(id string, numbers ...string) smsgateway.MobileMessage {
	yes := true
	return smsgateway.MobileMessage{
		Message:   smsgateway.Message{ID: id, TextMessage: &smsgateway.TextMessage{Text: "hello " + id}, PhoneNumbers: numbers, WithDeliveryReport: &yes},
		CreatedAt: time.Now(),
	}
}

// start registers a phone with the fake server and waits until it knows its
// webhooks (sent by the server's WebhooksUpdated on connect).
func start(t *testing.T, f *fakeServer, opts phonetest.Options) *phonetest.Phone {
	t.Helper()
	opts.PrivateToken = f.privateToken
	p := phonetest.New(t, f.base(), opts)
	if err := p.WaitWebhooks(ctx(t), phonetest.EventSmsSent, phonetest.EventSmsReceived); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFirstStartRegistersThenStreamsThenPulls(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{Name: "pixel", SIMs: []phonetest.SIM{{Number: "+959250000001", Operator: "MPT", Country: "mm"}, {Number: "+959790000002", Operator: "Ooredoo", Country: "mm"}}})
	if err := p.WaitFor(ctx(t), "a pull", func(v phonetest.View) bool { return v.Pulls() > 0 }); err != nil {
		t.Fatal(err)
	}
	calls := f.callList()
	// §5.1b: a first start is POST /device → GET /events → GET /message;
	// webhooks only on WebhooksUpdated, settings not at all.
	want := []string{"POST /device", "GET /events"}
	for i, c := range want {
		if calls[i] != c {
			t.Fatalf("call %d = %q, want %q (calls %v)", i, calls[i], c, calls)
		}
	}
	if strings.Contains(strings.Join(calls, ","), "GET /settings") {
		t.Errorf("a first start fetched settings: %v", calls)
	}
	f.mu.Lock()
	reg := f.registers[0]
	f.mu.Unlock()
	if reg.Name != "pixel" || len(reg.SIMCards) != 2 || reg.SIMCards[1] != (phonetest.SIMCard{SIMNumber: 2, PhoneNumber: "+959790000002", CarrierName: "Ooredoo", CountryISO: "mm"}) {
		t.Errorf("registration = %+v", reg)
	}
	id := p.Identity()
	if id.ID != "dev1" || id.Token != "tok1" || id.Login != "LOGINdev1" || id.Password != "pw-dev1" {
		t.Errorf("identity = %+v", id)
	}
	if err := p.WaitFor(ctx(t), "201", func(v phonetest.View) bool { return v.RegisterStatus() == 201 }); err != nil {
		t.Fatal(err)
	}
}

func TestMessageLifecycle(t *testing.T) {
	failSecond := func(m phonetest.Message, to string) phonetest.Fate {
		if to == "+2" {
			return phonetest.FateFailed
		}
		return phonetest.FateDelivered
	}
	past := time.Now().Add(-time.Minute)
	noReport := false
	tests := []struct {
		name      string
		fate      func(phonetest.Message, string) phonetest.Fate
		edit      func(*smsgateway.MobileMessage)
		numbers   []string
		wantState smsgateway.ProcessingState
		wantHist  []string
		wantHooks []string
		wantError string
	}{
		{name: "delivered", numbers: []string{"+1"}, wantState: "Delivered", wantHist: []string{"Pending", "Processed", "Sent", "Delivered"}, wantHooks: []string{"sms:sent", "sms:delivered"}},
		{name: "one of two recipients failed", fate: failSecond, numbers: []string{"+1", "+2"}, wantState: "Delivered", wantHist: []string{"Pending", "Processed", "Sent", "Delivered"}, wantHooks: []string{"sms:sent", "sms:failed", "sms:delivered"}, wantError: "RESULT_ERROR_GENERIC_FAILURE"},
		{name: "radio failure", fate: func(phonetest.Message, string) phonetest.Fate { return phonetest.FateNoService }, numbers: []string{"+1"}, wantState: "Failed", wantHist: []string{"Pending", "Processed", "Failed"}, wantHooks: []string{"sms:failed"}, wantError: "RESULT_ERROR_NO_SERVICE"},
		{name: "past validUntil", edit: func(m *smsgateway.MobileMessage) { m.ValidUntil = &past }, numbers: []string{"+1"}, wantState: "Failed", wantHist: []string{"Pending", "Processed", "Failed"}, wantHooks: []string{"sms:failed"}, wantError: "TTL expired"},
		{name: "no delivery report asked", edit: func(m *smsgateway.MobileMessage) { m.WithDeliveryReport = &noReport }, numbers: []string{"+1"}, wantState: "Sent", wantHist: []string{"Pending", "Processed", "Sent"}, wantHooks: []string{"sms:sent"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeServer(t)
			p := start(t, f, phonetest.Options{Fate: tc.fate})
			m := msg("m1", tc.numbers...)
			if tc.edit != nil {
				tc.edit(&m)
			}
			f.enqueue(p.Identity().ID, m)
			got := <-p.Received()
			if got.ID != "m1" || got.TextMessage.Text != "hello m1" {
				t.Fatalf("received %+v", got)
			}
			if err := p.WaitFor(ctx(t), "the message done", func(v phonetest.View) bool { return v.Done() == 1 }); err != nil {
				t.Fatal(err)
			}
			f.waitFor("the final PATCH and webhooks", func() bool {
				last, ok := f.lastPatch("m1")
				return ok && last.State == tc.wantState && len(last.States) == len(tc.wantHist) && f.count("POST /hook sms:") == len(tc.wantHooks)
			})
			f.mu.Lock()
			defer f.mu.Unlock()
			last, _ := f.lastPatch("m1")
			for _, s := range tc.wantHist {
				if _, ok := last.States[s]; !ok {
					t.Errorf("cumulative states %v lack %s", last.States, s)
				}
			}
			if tc.wantError != "" {
				found := false
				for _, r := range last.Recipients {
					found = found || (r.Error != nil && strings.Contains(*r.Error, tc.wantError))
				}
				if !found {
					t.Errorf("no recipient error with %q in %+v", tc.wantError, last.Recipients)
				}
			}
			var events []string
			for _, h := range f.hooks {
				events = append(events, h.Event)
				if h.DeviceID != p.Identity().ID || h.ID == "" || h.WebhookID == "" {
					t.Errorf("webhook envelope %+v", h)
				}
			}
			if strings.Join(events, ",") != strings.Join(tc.wantHooks, ",") {
				t.Errorf("webhooks %v, want %v", events, tc.wantHooks)
			}
			// One PATCH per recipient change: Processed for each, then the
			// radio's answer for each, then each delivery.
			if len(f.patches) < 2*len(tc.numbers) {
				t.Errorf("only %d PATCHes", len(f.patches))
			}
			f.mu.Unlock()
			ok := f.hooksSignedWith(p.SigningKey())
			f.mu.Lock()
			if !ok {
				t.Error("a webhook is not signed with the phone's key")
			}
		})
	}
}

func TestSettingsKeyAndRestart(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{})
	f.mu.Lock()
	f.signingKey = "server-key"
	f.mu.Unlock()
	f.send(p.Identity().ID, "event: SettingsUpdated\ndata: {}\n\n")
	if err := p.WaitFor(ctx(t), "the server's key", func(v phonetest.View) bool { return v.Settings().Webhooks != nil }); err != nil {
		t.Fatal(err)
	}
	if p.SigningKey() != "server-key" {
		t.Fatalf("key %q", p.SigningKey())
	}
	p.PowerOff()
	before := len(f.callList())
	if err := p.PowerOn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitConnected(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.waitFor("a restart's calls", func() bool { return f.count("GET /events") == 2 })
	var calls []string
	for _, c := range f.callList()[before:] {
		// A pull cut short by the power-off may be noted late.
		if c != "GET /message" {
			calls = append(calls, c)
		}
	}
	// A restart: PATCH /device, then webhooks and settings, then the stream.
	if calls[0] != "PATCH /device" || calls[1] != "GET /webhooks" || calls[2] != "GET /settings" {
		t.Errorf("restart calls %v", calls)
	}
	f.mu.Lock()
	upd := f.updates[0]
	f.mu.Unlock()
	if upd.ID != p.Identity().ID || len(upd.SIMCards) != 1 {
		t.Errorf("update %+v", upd)
	}
}

func TestRestartWithUnknownTokenRegistersAgain(t *testing.T) {
	f := newFakeServer(t)
	p := phonetest.New(t, f.base(), phonetest.Options{PrivateToken: f.privateToken, Identity: &phonetest.Identity{ID: "gone", Token: "revoked"}})
	if err := p.WaitConnected(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	registrations := f.count("POST /device")
	f.mu.Unlock()
	if p.Identity().ID != "dev1" || registrations != 1 {
		t.Errorf("identity %+v, calls %v", p.Identity(), f.callList())
	}
}

func TestGoesSilentMidMessageAndReplaysOnReconnect(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{})
	silent := p.GoSilentAfter(smsgateway.ProcessingStateProcessed)
	f.enqueue(p.Identity().ID, msg("m1", "+1"))
	<-silent
	// The radio goes on: the phone finishes locally, holding the reports.
	if err := p.WaitFor(ctx(t), "the message done offline", func(v phonetest.View) bool { return v.Done() == 1 && v.Held() > 0 && !v.Connected() }); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	last, _ := f.lastPatch("m1")
	f.mu.Unlock()
	if last.State != smsgateway.ProcessingStateProcessed {
		t.Fatalf("while silent the server has %s", last.State)
	}
	p.Reconnect()
	if err := p.WaitFlushed(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the held reports", func() bool {
		last, _ := f.lastPatch("m1")
		return last.State == smsgateway.ProcessingStateDelivered && f.count("POST /hook sms:delivered") == 1
	})
	// Replays after a reconnect are normal: the server sees the same
	// snapshots again.
	f.mu.Lock()
	n := f.count("PATCH /message")
	f.mu.Unlock()
	if err := p.ReplayPatches(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// At least every one again: a PATCH still on its way when n was
	// counted arrives too (and is replayed), so the total may pass 2n.
	f.waitFor("replayed PATCHes", func() bool { return f.count("PATCH /message") >= 2*n })
}

// TestGoesSilentAfterOneOfManyTaken: a phone working on many messages at
// once that goes silent after reporting one taken lets the server hear of
// that one only. Regression: another worker's Processed PATCH, sent while
// the first was on its way, reached the server too, so a test relying on
// "B took one message, then vanished" saw a second message stay sent
// until B came back (the flaky two-phone end-to-end test).
func TestGoesSilentAfterOneOfManyTaken(t *testing.T) {
	for round := range 5 {
		f := newFakeServer(t)
		p := start(t, f, phonetest.Options{Name: fmt.Sprintf("busy-%d", round), Parallel: 8})
		silent := p.GoSilentAfter(smsgateway.ProcessingStateProcessed)
		const n = 16
		f.mu.Lock()
		for i := range n {
			f.pending[p.Identity().ID] = append(f.pending[p.Identity().ID], msg(fmt.Sprintf("m%02d", i), "+1"))
		}
		f.mu.Unlock()
		f.send(p.Identity().ID, "event: MessageEnqueued\ndata: {}\n\n")
		taken := <-silent
		if err := p.WaitFor(ctx(t), "every message done offline", func(v phonetest.View) bool { return v.Done() == n }); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		heard := map[string]bool{}
		for _, it := range f.patches {
			heard[it.ID] = true
		}
		f.mu.Unlock()
		if len(heard) != 1 || !heard[taken] {
			t.Fatalf("round %d: the server heard of %v before the phone vanished, want only %s", round, heard, taken)
		}
		p.Close()
	}
}

func TestPowerOffMidMessageResumesAfterRestart(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{})
	off := p.PowerOffAfter(smsgateway.ProcessingStateSent)
	f.enqueue(p.Identity().ID, msg("m1", "+1"))
	<-off
	p.PowerOff() // waits for the workers to stop
	f.mu.Lock()
	last, _ := f.lastPatch("m1")
	f.mu.Unlock()
	if last.State != smsgateway.ProcessingStateProcessed {
		t.Fatalf("after power-off the server has %s", last.State)
	}
	if err := p.PowerOn(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.waitFor("the rest after restart", func() bool {
		last, _ := f.lastPatch("m1")
		return last.State == smsgateway.ProcessingStateDelivered && f.count("PATCH /device") == 1
	})
}

func TestDuplicatePatches(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{DuplicatePatches: 1})
	f.enqueue(p.Identity().ID, msg("m1", "+1"))
	f.waitFor("each of the 3 PATCHes twice", func() bool { return len(f.rawPatch) == 6 })
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rawPatch) != 6 || string(f.rawPatch[0]) != string(f.rawPatch[1]) {
		t.Errorf("%d PATCHes; want each of 3 twice", len(f.rawPatch))
	}
}

func TestInboundPingAndEscaping(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{SIMs: []phonetest.SIM{{Number: "+1"}, {Number: "+2"}}})
	p.SetBattery(42, true)
	if err := p.Inject(ctx(t), phonetest.Inbound{From: "+95911", Text: "a=b & 'c' <d>", SIM: 2}); err != nil {
		t.Fatal(err)
	}
	if err := p.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	raw := string(f.rawHooks[0])
	recv, ping := f.hooks[0], f.hooks[1]
	f.mu.Unlock()
	for _, esc := range []string{`\u003d`, `\u0026`, `\u0027`, `\u003c`} {
		if !strings.Contains(raw, esc) {
			t.Errorf("raw body lacks the app's escape %s: %s", esc, raw)
		}
	}
	if recv.Event != "sms:received" || !strings.Contains(string(recv.Payload), `"simNumber":2`) || !strings.Contains(string(recv.Payload), `"receivedAt":"`) {
		t.Errorf("sms:received %s", recv.Payload)
	}
	if ping.Event != "system:ping" || !strings.Contains(string(ping.Payload), `"battery:level":{"description":"Battery level in percent","observedUnit":"percent","observedValue":42`) {
		t.Errorf("system:ping %s", ping.Payload)
	}
	if !f.hooksSignedWith(p.SigningKey()) {
		t.Error("bad signature")
	}
	// Offline, an inbound SMS waits for the network.
	p.GoSilent()
	if err := p.Inject(ctx(t), phonetest.Inbound{From: "+95911", Text: "later"}); err != nil {
		t.Fatal(err)
	}
	p.Reconnect()
	f.waitFor("the held sms:received", func() bool { return f.count("POST /hook sms:received") == 2 })
}

func TestStreamEventsAndReconnects(t *testing.T) {
	f := newFakeServer(t)
	p := start(t, f, phonetest.Options{})
	dev := p.Identity().ID
	// No data line: never dispatched. No name: MessageEnqueued.
	f.send(dev, "event: SettingsUpdated\n\n: comment\ndata: {}\n\n")
	if err := p.WaitFor(ctx(t), "an unnamed event", func(v phonetest.View) bool {
		ev := v.Events()
		return len(ev) == 2 && ev[1] == phonetest.SSEMessageEnqueued
	}); err != nil {
		t.Fatal(err)
	}
	// The server drops the stream: the phone comes back and pulls.
	f.mu.Lock()
	f.pending[dev] = append(f.pending[dev], msg("m9", "+1"))
	f.mu.Unlock()
	f.dropStream(dev)
	if err := p.WaitFor(ctx(t), "a second connect", func(v phonetest.View) bool { return v.Connects() == 2 }); err != nil {
		t.Fatal(err)
	}
	if got := <-p.Received(); got.ID != "m9" {
		t.Errorf("pulled %s after reconnect", got.ID)
	}
}

func TestFleet(t *testing.T) {
	f := newFakeServer(t)
	phones := phonetest.Fleet(t, f.base(), 3, "gw", "+15550000009", phonetest.Options{PrivateToken: f.privateToken})
	f.waitFor("three registrations", func() bool { return len(f.registers) == 3 })
	f.mu.Lock()
	defer f.mu.Unlock()
	if phones[2].Name() != "gw-03" || f.registers[1].SIMCards[0].PhoneNumber != "+15550000010" {
		t.Errorf("fleet %s %+v", phones[2].Name(), f.registers[1])
	}
}

func TestPingsEveryInterval(t *testing.T) {
	f := newFakeServer(t)
	start(t, f, phonetest.Options{PingInterval: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	f.waitFor("two pings, each followed by a pull", func() bool {
		return f.count("POST /hook system:ping") >= 2 && f.count("GET /message") >= 3
	})
}
