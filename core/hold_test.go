package core_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
)

const holdConfig = `
routing {
  timezone = "Asia/Yangon"
}
provider "sandbox" {
  plugin = "sandbox"
  config = { dlr_delay = "0s", seed = 1, max_batch_size = 100 }
}
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["sandbox"]
  quiet_hours {
    from = "21:00"
    to   = "06:00"
  }
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// countingProviders counts how often each message is handed to a provider.
type countingProviders struct {
	*pluginhost.Host
	mu   sync.Mutex
	sent map[string]int
}

func (p *countingProviders) Send(ctx context.Context, name string, msgs []message.Outgoing) ([]message.SendResult, error) {
	p.mu.Lock()
	for _, m := range msgs {
		p.sent[m.ID]++
	}
	p.mu.Unlock()
	return p.Host.Send(ctx, name, msgs)
}

// holdEnv is a store, a service and the providers of one test, on a clock
// the test moves.
type holdEnv struct {
	st    *store.Store
	svc   *core.Service
	clock *fakeClock
	acc   string
	sends *countingProviders
}

func newHoldEnv(t *testing.T, st *store.Store, clock *fakeClock) *holdEnv {
	t.Helper()
	cfg, err := config.Parse([]byte(holdConfig), "hold.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	host := pluginhost.New(pluginhost.Options{Events: st})
	p := cfg.Providers[0]
	if err := host.Start(t.Context(), []pluginhost.Spec{{Name: p.Name, Settings: p.Settings, InProcess: sandbox.New()}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Stop)
	acc, err := st.CreateAccount(t.Context(), "hold")
	if err != nil {
		t.Fatal(err)
	}
	return &holdEnv{st: st, clock: clock, acc: acc.ID, sends: &countingProviders{Host: host, sent: map[string]int{}},
		svc: core.NewService(st, cfg.Table, nil, core.Options{Now: clock.Now})}
}

// dispatcher is one sending node on the test's clock; a new one stands for
// a restarted server.
func (e *holdEnv) dispatcher() *dispatch.Dispatcher {
	return dispatch.New(e.st, e.sends, dispatch.Options{Now: e.clock.Now})
}

func (e *holdEnv) send(t *testing.T, kind message.Kind, validity time.Duration) message.View {
	t.Helper()
	v, err := e.svc.Send(t.Context(), e.acc, core.SendRequest{To: "+959791234567", Message: fmt.Sprintf("%s %d", kind, time.Now().UnixNano()),
		Kind: kind, Validity: validity})
	if err != nil {
		t.Fatalf("send %s: %v", kind, err)
	}
	return v
}

func (e *holdEnv) status(t *testing.T, id string) message.View {
	t.Helper()
	v, err := e.svc.Message(t.Context(), e.acc, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestQuietHoursHoldMarketing is the check: a marketing message
// accepted at 21:50 local time is sent after 06:00. It waits queued with
// the reason in its status and history, does not hold up an OTP sent at
// the same time, survives a restart (a new dispatcher), is sent once by two
// nodes, and one whose validity ends first expires saying why.
func TestQuietHoursHoldMarketing(t *testing.T) {
	yangon, _ := time.LoadLocation("Asia/Yangon")
	clock := &fakeClock{t: time.Date(2026, 12, 7, 21, 50, 0, 0, yangon)}
	storetest.EachWith(t, store.Options{Now: clock.Now}, func(t *testing.T, st *store.Store) {
		clock.Set(time.Date(2026, 12, 7, 21, 50, 0, 0, yangon))
		e := newHoldEnv(t, st, clock)
		ctx := t.Context()
		const batch = 30
		var held []string
		for range batch {
			v := e.send(t, message.KindMarketing, 0)
			if v.Status != message.Queued {
				t.Fatalf("accepted as %s, want queued", v.Status)
			}
			held = append(held, v.ID)
		}
		short := e.send(t, message.KindMarketing, time.Hour)
		otp := e.send(t, message.KindOTP, 0)

		first := e.dispatcher()
		if n, err := first.DispatchOnce(ctx); err != nil || n != 1 {
			t.Fatalf("at 21:50 the dispatcher claimed %d messages (%v); want the OTP alone", n, err)
		}
		if v := e.status(t, otp.ID); v.Status != message.Sent && v.Status != message.Delivered {
			t.Errorf("the OTP is %s while marketing is held; want it sent", v.Status)
		}
		v := e.status(t, held[0])
		if v.Status != message.Queued || v.ErrorCode != message.CodeHeld || v.ErrorMessage != "held for quiet hours until 06:00 Asia/Yangon" {
			t.Errorf("held message: %s %s %q; want queued HELD with the reason", v.Status, v.ErrorCode, v.ErrorMessage)
		}
		history, err := storetest.StatusHistory(ctx, st, held[0])
		if err != nil || len(history) != 1 || history[0].ErrorCode != message.CodeHeld || !strings.Contains(history[0].Reason, "until 06:00") {
			t.Errorf("history %+v (%v); want one queued change saying it is held", history, err)
		}

		// Its validity (one hour) ends at 22:50, long before 06:00.
		clock.Set(time.Date(2026, 12, 7, 22, 50, 0, 0, yangon))
		if n, err := first.DispatchOnce(ctx); err != nil || n != 1 {
			t.Fatalf("at 22:50 the dispatcher claimed %d messages (%v); want the short-lived one", n, err)
		}
		if v := e.status(t, short.ID); v.Status != message.Expired || !strings.Contains(v.ErrorMessage, "held for quiet hours until 06:00") {
			t.Errorf("short-lived held message: %s %q; want expired saying it was held", v.Status, v.ErrorMessage)
		}

		clock.Set(time.Date(2026, 12, 8, 5, 59, 59, 0, yangon))
		if n, err := first.DispatchOnce(ctx); err != nil || n != 0 {
			t.Fatalf("at 05:59:59 the dispatcher claimed %d messages (%v); want none", n, err)
		}

		// 06:00: two fresh nodes (the first is gone: a restart) share the batch.
		clock.Set(time.Date(2026, 12, 8, 6, 0, 0, 0, yangon))
		a, b := e.dispatcher(), e.dispatcher()
		var wg sync.WaitGroup
		for _, d := range []*dispatch.Dispatcher{a, b} {
			wg.Go(func() {
				for {
					n, err := d.DispatchOnce(ctx)
					if err != nil {
						t.Error(err)
					}
					if n == 0 || err != nil {
						return
					}
				}
			})
		}
		wg.Wait()
		for _, id := range held {
			v := e.status(t, id)
			if v.Status != message.Sent && v.Status != message.Delivered {
				t.Errorf("%s is %s after 06:00; want sent", id, v.Status)
				continue
			}
			if v.SentAt == nil || v.SentAt.Before(time.Date(2026, 12, 8, 6, 0, 0, 0, yangon)) {
				t.Errorf("%s sent at %v; want after 06:00", id, v.SentAt)
			}
			if n := e.sends.sent[id]; n != 1 {
				t.Errorf("%s handed to providers %d times; want once", id, n)
			}
		}
	})
}
