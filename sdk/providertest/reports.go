package providertest

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// testReports checks that every accepted message gets a delivery report,
// by whichever way the provider reports: events, hooks, status queries.
func (k *kit) testReports(t tb) {
	in := k.start(t)
	k.configure(t, in)
	caps := in.caps
	if !caps.Events && !caps.Hooks && !caps.StatusQuery {
		t.Fatalf("Target.ExpectReports is set but the provider has no way to report deliveries: implement sdk.EventSource, sdk.HookHandler or sdk.StatusQuerier")
	}
	accepted := k.sendBatch(t, in)
	if len(accepted) == 0 {
		t.FailNow()
	}
	complete := in.reports.expect(accepted)
	if k.Upstream != nil && k.Upstream.Report != nil {
		k.postReports(t, in, accepted)
	}
	switch {
	case caps.Events:
		k.checkEventStream(t, in, complete)
	case caps.Hooks:
		k.awaitReports(t, in, complete, nil)
	default:
		k.awaitReports(t, in, complete, func(ctx context.Context) { k.pollStatus(ctx, t, in) })
	}
}

// postReports has the fake upstream call the hook URL with a report for
// each accepted message; the hook server stores what HandleHook emits.
func (k *kit) postReports(t tb, in *instance, accepted []string) {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	for _, id := range accepted {
		req, err := k.Upstream.Report(in.hooks.publicURL, id)
		if err != nil {
			t.Fatalf("Upstream.Report(%q): %v", id, err)
		}
		status, err := in.hooks.deliver(ctx, req)
		switch {
		case err != nil:
			t.Errorf("delivery report for %s: %v", id, err)
		case status < 200 || status > 299:
			t.Errorf("the upstream's delivery report for %s (Upstream.Report) was answered %d; want 2xx", id, status)
		}
	}
}

// awaitReports waits until every accepted message has a report, calling
// poll (if any) now and then meanwhile.
func (k *kit) awaitReports(t tb, in *instance, complete <-chan struct{}, poll func(context.Context)) {
	ctx, cancel := context.WithTimeout(t.Context(), k.ReportTimeout)
	defer cancel()
	pause := 20 * time.Millisecond
	for {
		if poll != nil {
			poll(ctx)
		}
		select {
		case <-complete:
			return
		case <-ctx.Done():
			got, want := in.reports.progress()
			t.Fatalf("after %s, delivery reports arrived for %d of %d accepted messages", k.ReportTimeout, got, want)
		case <-time.After(pause):
			pause = min(2*pause, 500*time.Millisecond)
		}
	}
}

// pollStatus asks QueryStatus about the messages without a report yet, as
// the host does for providers without callbacks.
func (k *kit) pollStatus(ctx context.Context, t tb, in *instance) {
	missing := in.reports.missing()
	if len(missing) == 0 {
		return
	}
	evs, err := in.p.(sdk.StatusQuerier).QueryStatus(ctx, missing)
	if err != nil {
		if ctx.Err() == nil {
			t.Errorf("QueryStatus of %d accepted messages: %v", len(missing), err)
		}
		return
	}
	for _, ev := range evs {
		_ = in.reports.store(ctx, sdk.Event{ID: ev.ProviderMessageID + ":" + string(ev.Status), Status: &ev})
	}
}

// checkEventStream runs Events: the host fails to store the first event it
// is offered and stores the rest. The refused event must be offered again:
// on the same stream or, as here after a restart, on the next.
func (k *kit) checkEventStream(t tb, in *instance, complete <-chan struct{}) {
	src := in.p.(sdk.EventSource)
	refused := make(chan sdk.Event, 1)
	var once sync.Once
	firstRefused := func(ctx context.Context, ev sdk.Event) error {
		refuse := false
		once.Do(func() { refuse = true })
		if !refuse {
			return in.reports.store(ctx, ev)
		}
		checkEvent(t, ev)
		refused <- ev
		return errors.New("providertest: simulated failure to store the event")
	}
	var refusedID string
	ctx, cancel := context.WithCancel(t.Context())
	done := runEvents(ctx, t, src, firstRefused)
	select {
	case ev := <-refused:
		refusedID = ev.ID
	case err := <-done:
		cancel()
		t.Fatalf("Events returned before its context ended: %v", err)
	case <-time.After(k.ReportTimeout):
		t.Errorf("no event within %s of accepting messages", k.ReportTimeout)
	}
	cancel()
	awaitReturn(t, done)
	if refusedID == "" {
		t.FailNow()
	}

	ctx, cancel = context.WithCancel(t.Context())
	done = runEvents(ctx, t, src, in.reports.store)
	defer func() {
		cancel()
		awaitReturn(t, done)
		if !in.reports.stored(refusedID) {
			t.Errorf("event %q was refused by the host but never offered again; a refused event must be emitted again", refusedID)
		}
	}()
	select {
	case <-complete:
	case err := <-done:
		done = closedErr(err)
		t.Errorf("Events returned before its context ended: %v", err)
	case <-time.After(k.ReportTimeout):
		got, want := in.reports.progress()
		t.Errorf("after %s, status events arrived for %d of %d accepted messages", k.ReportTimeout, got, want)
	}
}

// closedErr is a channel that already yields err.
func closedErr(err error) <-chan error {
	c := make(chan error, 1)
	c <- err
	return c
}

// awaitReturn waits for an Events call whose context was cancelled.
func awaitReturn(t tb, done <-chan error) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(promptTimeout):
		t.Fatalf("Events did not return within %s after its context was cancelled", promptTimeout)
	}
}

// runEvents runs Events in a goroutine; the channel yields its error once it
// returns.
func runEvents(ctx context.Context, t tb, src sdk.EventSource, emit sdk.EmitFunc) <-chan error {
	done := make(chan error, 1)
	go func() {
		var err error
		if guard(t, "Events", func() { err = src.Events(ctx, emit) }) {
			err = errors.New("panicked")
		}
		done <- err
	}()
	return done
}

// collector is a host that stores every event it is offered and tells when
// the accepted messages all have a status event.
type collector struct {
	t        tb
	mu       sync.Mutex
	seen     map[string]bool // provider ids with a status event
	ids      map[string]bool // every event id stored
	want     []string        // provider ids that must get a status event
	complete chan struct{}   // closed once seen covers want
}

func newCollector(t tb) *collector {
	return &collector{t: t, seen: map[string]bool{}, ids: map[string]bool{}, complete: make(chan struct{})}
}

// expect says which provider ids must get a status event; the channel
// closes once they all have.
func (c *collector) expect(ids []string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.want = ids
	c.checkLocked()
	return c.complete
}

func (c *collector) store(_ context.Context, ev sdk.Event) error {
	checkEvent(c.t, ev)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[ev.ID] = true
	if ev.Status != nil {
		c.seen[ev.Status.ProviderMessageID] = true
	}
	c.checkLocked()
	return nil
}

func (c *collector) checkLocked() {
	if c.want == nil || len(c.missingLocked()) > 0 {
		return
	}
	select {
	case <-c.complete:
	default:
		close(c.complete)
	}
}

func (c *collector) missingLocked() []string {
	var out []string
	for _, id := range c.want {
		if !c.seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// missing lists the expected provider ids without a status event yet.
func (c *collector) missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.missingLocked()
}

// progress is how many expected ids have a status event, of how many.
func (c *collector) progress() (got, want int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.want) - len(c.missingLocked()), len(c.want)
}

func (c *collector) stored(eventID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[eventID]
}

// checkEvent checks the shape every event must have. It may run on the
// provider's goroutine, so it only reports with Errorf.
func checkEvent(t tb, ev sdk.Event) {
	if ev.ID == "" {
		t.Errorf("event without an ID: %s", describeEvent(ev))
	}
	if (ev.Status == nil) == (ev.Inbound == nil) {
		t.Errorf("event %q must carry exactly one of Status and Inbound: %s", ev.ID, describeEvent(ev))
		return
	}
	if s := ev.Status; s != nil {
		if s.ProviderMessageID == "" {
			t.Errorf("status event %q has no ProviderMessageID", ev.ID)
		}
		if !s.Status.Valid() {
			t.Errorf("status event %q has invalid status %q", ev.ID, s.Status)
		}
	}
}
