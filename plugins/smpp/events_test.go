package smpp_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestReceiptsOfReusedIDsAreToldApart: after the SMSC restarts its ids, the
// receipts of two messages with one id are two events (not one event seen
// twice), each with its message's recipient for the host to match on.
func TestReceiptsOfReusedIDsAreToldApart(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := newProvider(t, srv, nil)
	c := collect(t, p)
	first := send(t, p, []sdk.Message{{ID: "msg_a", To: "+14155550001", Text: "a", Encoding: sdk.EncodingGSM7, Segments: 1}})[0]
	srv.RestartIDs(0x1A2B3C00)
	second := send(t, p, []sdk.Message{{ID: "msg_b", To: "+14155550002", Text: "b", Encoding: sdk.EncodingGSM7, Segments: 1}})[0]
	if first.ProviderMessageID != second.ProviderMessageID {
		t.Fatalf("the SMSC gave ids %q and %q; the test needs one id twice", first.ProviderMessageID, second.ProviderMessageID)
	}
	evs := c.await(t, "two receipts", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) == 2 })
	if evs[0].ID == evs[1].ID {
		t.Errorf("both receipts have event id %q: the host drops the second as a repeat", evs[0].ID)
	}
	got := map[string]bool{}
	for _, ev := range evs {
		got[ev.Status.Recipient] = true
		if ev.DuplicateWindow != 10*time.Minute {
			t.Errorf("receipt event duplicate window %s, want the default 10m", ev.DuplicateWindow)
		}
	}
	if !got["+14155550001"] || !got["+14155550002"] {
		t.Errorf("receipt recipients %v, want both messages' numbers", got)
	}
}

// TestInboundRepeatsAreNewMessages: the same text twice from one handset
// gives events whose id marks repeats only for duplicate_window, so the
// host stores the second unless it is a redelivery.
func TestInboundRepeatsAreNewMessages(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := newProvider(t, srv, map[string]any{"duplicate_window": "2m"})
	c := collect(t, p)
	for range 2 {
		if err := srv.InjectMO("+79991234567", "+79160000002", "YES"); err != nil {
			t.Fatal(err)
		}
	}
	evs := c.await(t, "two inbound messages", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) == 2 })
	for _, ev := range evs {
		if ev.DuplicateWindow != 2*time.Minute {
			t.Errorf("inbound event %s has duplicate window %s, want 2m", ev.ID, ev.DuplicateWindow)
		}
	}
}

// TestInboundNumbersAreE164: numbers an SMSC writes with TON 0 ("unknown")
// are stored in E.164 when they read as international or, with country
// set, as national numbers of that country; short codes stay as they are.
func TestInboundNumbersAreE164(t *testing.T) {
	cases := []struct {
		name, to, country, want string
	}{
		{"international digits, TON 0", "79160000002", "", "+79160000002"},
		{"international digits, TON 0, country set", "79160000002", "RU", "+79160000002"},
		{"national number, country set", "9160000002", "RU", "+79160000002"},
		{"short code", "7522", "RU", "7522"},
		{"international, TON 1", "+4915123456789", "RU", "+4915123456789"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{})
			p := newProvider(t, srv, map[string]any{"country": tc.country})
			c := collect(t, p)
			if err := srv.InjectMO("+79991234567", tc.to, "hi"); err != nil {
				t.Fatal(err)
			}
			ev := c.await(t, "the inbound message", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) == 1 })[0]
			if ev.Inbound.To != tc.want || ev.Inbound.From != "+79991234567" {
				t.Errorf("inbound to %q from %q, want to %q", ev.Inbound.To, ev.Inbound.From, tc.want)
			}
		})
	}
}

// TestReceiptsWaitForASlowHostInsteadOfBeingRefused: receipts arriving
// faster than the host stores them are emitted concurrently up to the
// plugin's limit, then the plugin stops reading the connection (the SMSC
// waits on TCP) rather than answering ESME_RX_T_APPN; once the host stores
// again, every receipt is emitted and acknowledged, none refused.
func TestReceiptsWaitForASlowHostInsteadOfBeingRefused(t *testing.T) {
	const n, queued, emits = 40, 2, 4
	srv := startSMSC(t, smsctest.Config{DeliverWindow: 1000})
	p := smpp.New()
	smpp.SetEventLimits(p, queued, emits)
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := p.Configure(t.Context(), sdk.Config{Name: "smpp-test", Settings: settingsFor(srv, map[string]any{"window": 100}), Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		blocked  int
		changed  = make(chan struct{})
		release  = make(chan struct{})
		stored   = map[string]bool{}
		emitting = func() int { mu.Lock(); defer mu.Unlock(); return blocked }
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Events(ctx, func(ctx context.Context, ev sdk.Event) error {
			mu.Lock()
			blocked++
			close(changed)
			changed = make(chan struct{})
			mu.Unlock()
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			stored[ev.Status.ProviderMessageID] = true
			close(changed)
			changed = make(chan struct{})
			mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })

	sent := make(chan []sdk.SendResult, 1)
	go func() {
		res, _ := p.Send(t.Context(), messages("m", n, "slow host"))
		sent <- res
	}()

	// Every emit slot fills with a receipt the host has not stored.
	deadline := time.After(10 * time.Second)
	for emitting() < emits {
		mu.Lock()
		ch := changed
		mu.Unlock()
		if emitting() >= emits {
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d emits in flight, want %d at once", emitting(), emits)
		}
	}
	if st := srv.Stats(); st.DeliverRefused != 0 || st.ReceiptsAcked != 0 {
		t.Fatalf("while the host stores nothing: %d receipts refused, %d acknowledged; want 0 and 0", st.DeliverRefused, st.ReceiptsAcked)
	}
	if got := emitting(); got != emits {
		t.Errorf("%d emits in flight, want the limit %d", got, emits)
	}

	close(release)
	res := <-sent
	if len(res) != n {
		t.Fatalf("Send returned %d results, want %d", len(res), n)
	}
	awaitCtx, stop := context.WithTimeout(t.Context(), 10*time.Second)
	defer stop()
	if err := srv.Await(awaitCtx, func(st smsctest.Stats) bool { return st.ReceiptsAcked == n }); err != nil {
		t.Fatalf("receipts acknowledged: %+v: %v", srv.Stats(), err)
	}
	if st := srv.Stats(); st.DeliverRefused != 0 {
		t.Errorf("%d receipts refused, want 0", st.DeliverRefused)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range res {
		if !stored[r.ProviderMessageID] {
			t.Errorf("receipt of %s (%s) was not emitted", r.MessageID, r.ProviderMessageID)
		}
	}
}
