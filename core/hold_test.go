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
	"github.com/smsrouter/smsrouter/routing"
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
	st      *store.Store
	svc     *core.Service
	clock   *fakeClock
	acc     string
	sends   *countingProviders
	planner core.Planner
}

// newHoldEnv starts the providers of the config src (in-process
// sandboxes) and a service deciding with planner, or with src's table when
// planner is nil.
func newHoldEnv(t *testing.T, st *store.Store, clock *fakeClock, src string, planner core.Planner) *holdEnv {
	t.Helper()
	cfg := parseConfig(t, src)
	host := pluginhost.New(pluginhost.Options{Events: st})
	var specs []pluginhost.Spec
	for _, p := range cfg.Providers {
		specs = append(specs, pluginhost.Spec{Name: p.Name, Settings: p.Settings, InProcess: sandbox.New()})
	}
	if err := host.Start(t.Context(), specs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(host.Stop)
	acc, err := st.CreateAccount(t.Context(), "hold")
	if err != nil {
		t.Fatal(err)
	}
	if planner == nil {
		planner = cfg.Table
	}
	return &holdEnv{st: st, clock: clock, acc: acc.ID, sends: &countingProviders{Host: host, sent: map[string]int{}},
		planner: planner, svc: core.NewService(st, planner, nil, core.Options{Now: clock.Now})}
}

func parseConfig(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "hold.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dispatcher is one sending node on the test's clock, routing scheduled
// messages again; a new one stands for a restarted server.
func (e *holdEnv) dispatcher() *dispatch.Dispatcher {
	return dispatch.New(e.st, e.sends, dispatch.Options{Now: e.clock.Now, Rerouter: core.Rerouter{Planner: e.planner}})
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
		e := newHoldEnv(t, st, clock, holdConfig, nil)
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

// TestScheduledRoutedAgainAtSendTime: a scheduled message is routed as of
// its send_at when accepted, and again when it is due, with the table then
// (here one reloaded in between), its tags and the time then; the decision
// at accept stays in its history. A route that holds at send time holds it;
// no route at send time fails it with NO_ROUTE.
func TestScheduledRoutedAgainAtSendTime(t *testing.T) {
	const providers = `
routing {
  timezone = "Asia/Yangon"
}
provider "sandbox" {
  plugin = "sandbox"
  config = { dlr_delay = "0s", seed = 1, max_batch_size = 100 }
}
provider "late" {
  plugin = "sandbox"
  config = { dlr_delay = "0s", seed = 2, max_batch_size = 100 }
}
`
	const atAccept = providers + `
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["sandbox"]
  quiet_hours {
    from = "21:00"
    to   = "06:00"
  }
}
route "vip" {
  match      = "tags.tier == 'gold'"
  candidates = ["sandbox"]
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`
	const reloaded = providers + `
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["late"]
  quiet_hours {
    from = "21:00"
    to   = "06:00"
  }
}
route "vip" {
  match      = "tags.tier == 'gold'"
  candidates = ["late"]
}
route "evening" {
  match      = "kind == 'transactional'"
  candidates = ["late"]
  quiet_hours {
    from = "20:00"
    to   = "06:00"
  }
}
route "default" {
  default    = true
  candidates = ["sandbox"]
  filter     = "kind != 'sms'"
}
`
	yangon, _ := time.LoadLocation("Asia/Yangon")
	day := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, yangon) }
	clock := &fakeClock{}
	storetest.EachWith(t, store.Options{Now: clock.Now}, func(t *testing.T, st *store.Store) {
		clock.Set(day(7, 14, 0))
		router := routing.NewRouter(parseConfig(t, atAccept).Table, nil)
		e := newHoldEnv(t, st, clock, atAccept, router)
		ctx := t.Context()
		schedule := func(kind message.Kind, at time.Time, tags map[string]string) string {
			v, err := e.svc.Send(ctx, e.acc, core.SendRequest{To: "+959791234567", Message: "scheduled " + string(kind),
				Kind: kind, SendAt: at, Tags: tags})
			if err != nil {
				t.Fatal(err)
			}
			return v.ID
		}
		marketing := schedule(message.KindMarketing, day(7, 23, 0), nil)
		vip := schedule(message.KindSMS, day(7, 18, 0), map[string]string{"tier": "gold"})
		evening := schedule(message.KindTransactional, day(7, 20, 30), nil)
		gone := schedule(message.KindSMS, day(7, 19, 0), nil)
		detail := func(id string) message.Detail {
			d, err := st.MessageDetail(ctx, "", id)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if d := detail(marketing); d.ErrorCode != message.CodeHeld || d.Route != "marketing" {
			t.Errorf("marketing for 23:00: %s %q route %s; want held at accept, routed as of its send_at", d.ErrorCode, d.ErrorMessage, d.Route)
		}

		router.Swap(parseConfig(t, reloaded).Table)
		d := e.dispatcher()
		run := func(at time.Time, want int) {
			t.Helper()
			clock.Set(at)
			if n, err := d.DispatchOnce(ctx); err != nil || n != want {
				t.Fatalf("at %s claimed %d (%v); want %d", at.Format("15:04"), n, err, want)
			}
		}
		run(day(7, 18, 0), 1)
		v := detail(vip)
		if v.Route != "vip" || v.Provider != "late" {
			t.Errorf("vip at 18:00: route %s provider %s; want vip through late (routed again, with its tags)", v.Route, v.Provider)
		}
		if !hasChange(v.History, message.CodeRouted, "route vip (late); at accept: route vip (sandbox)") {
			t.Errorf("vip history lacks the decision at accept: %+v", v.History)
		}
		if !strings.Contains(v.Why, `"late"`) || strings.Contains(v.Why, `"sandbox"`) {
			t.Errorf("vip's why after routing again: %s; want the send-time decision (late), not accept's (sandbox)", v.Why)
		}

		run(day(7, 19, 0), 1)
		if v := detail(gone); v.Status != message.Failed || v.ErrorCode != "NO_ROUTE" || !strings.Contains(v.ErrorMessage, "at accept it had route default (sandbox)") {
			t.Errorf("sms whose route is gone at send time: %s %s %q; want failed NO_ROUTE", v.Status, v.ErrorCode, v.ErrorMessage)
		}

		run(day(7, 20, 30), 1)
		if v := detail(evening); v.Status != message.Queued || v.ErrorCode != message.CodeHeld || v.Route != "evening" ||
			v.ErrorMessage != "held for quiet hours until 06:00 Asia/Yangon" {
			t.Errorf("transactional at 20:30: %s %s %q route %s; want held by the reloaded evening route", v.Status, v.ErrorCode, v.ErrorMessage, v.Route)
		}
		if v := detail(evening); !strings.Contains(v.Why, `"evening"`) || !strings.Contains(v.Why, "06:00") {
			t.Errorf("held transactional's why: %s; want the evening route's decision with its hold", v.Why)
		}
		run(day(7, 23, 0), 0) // marketing was held at accept until 06:00

		run(day(8, 6, 0), 2)
		for _, id := range []string{marketing, evening} {
			v := detail(id)
			if (v.Status != message.Sent && v.Status != message.Delivered) || v.Provider != "late" {
				t.Errorf("%s (%s) at 06:00: %s through %q; want sent through late", id, v.Route, v.Status, v.Provider)
			}
		}
	})
}

func hasChange(history []message.Change, code, reasonPart string) bool {
	for _, c := range history {
		if c.ErrorCode == code && strings.Contains(c.Reason, reasonPart) {
			return true
		}
	}
	return false
}
