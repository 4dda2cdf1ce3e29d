package dispatch_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// advanceTo moves the clock to t unless it is already past it: waits of
// parallel sends each move it to their own turn, never back.
func (c *fakeClock) advanceTo(_ context.Context, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
	return nil
}

type timedSend struct {
	at       time.Time
	segments int
}

// recordSends accepts everything and notes the fake time and segments of
// each message as it reaches the provider.
func recordSends(clock *fakeClock, mu *sync.Mutex, out *[]timedSend) sendStep {
	return func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
		mu.Lock()
		for _, m := range msgs {
			*out = append(*out, timedSend{at: clock.Now(), segments: m.Segments})
		}
		mu.Unlock()
		return accept()(name, msgs)
	}
}

// drain dispatches until every one of ids is sent, moving the fake clock to
// the next due message when a round claims nothing, the way Run sleeps.
func (h *harness) drain(ids []string, rounds int) {
	h.t.Helper()
	ctx := context.Background()
	for range rounds {
		sent := 0
		for _, id := range ids {
			if h.msg(id).Status == "sent" {
				sent++
			}
		}
		if sent == len(ids) {
			return
		}
		if h.dispatch() > 0 {
			continue
		}
		next, ok, err := h.s.NextDue(ctx)
		if err != nil || !ok {
			h.t.Fatalf("NextDue = %v, %v, %v with %d of %d messages unsent", next, ok, err, len(ids)-sent, len(ids))
		}
		_ = h.clock.advanceTo(ctx, next)
	}
	h.t.Fatalf("messages still unsent after %d rounds", rounds)
}

// The TPS limit counts segments through a token bucket of one second's
// worth: over any span of the fake clock the provider gets at most burst +
// tps × span segments, and it does get about that many. Messages held back
// are neither failed nor failed over nor counted as attempts.
func TestTPSLimitPacesSegments(t *testing.T) {
	const tps = 5
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{Limits: dispatch.Limits{"a": {TPS: tps}}, BatchSize: 20})
		h.d = dispatch.New(s, h.hub, dispatch.Options{Limits: dispatch.Limits{"a": {TPS: tps}}, BatchSize: 20,
			Now: h.clock.Now, SleepUntil: h.clock.advanceTo, Logger: storetest.Logger(t)})
		var ids []string
		total := 0
		for i := range 30 {
			segs := 1 + i%2
			total += segs
			ids = append(ids, h.queue([]string{"a", "b"}, 1, func(m *store.Message) { m.Segments = segs })...)
		}
		var mu sync.Mutex
		var sends []timedSend
		h.hub.onAlways("a", recordSends(h.clock, &mu, &sends))
		h.drain(ids, 200)

		sort.Slice(sends, func(i, j int) bool { return sends[i].at.Before(sends[j].at) })
		burst := float64(tps) // one second's worth
		// A send is recorded at the fake time when it happened or later
		// (parallel waits move the one clock), never earlier, so counts up
		// to an instant are exact bounds: from the start the provider gets
		// no more than the full bucket plus tps per second.
		n := 0
		for _, snd := range sends {
			n += snd.segments
			if since := snd.at.Sub(start).Seconds(); float64(n) > burst+tps*since+1e-6 {
				t.Fatalf("%d segments sent by %.3fs; a %d tps bucket allows %.1f", n, since, tps, burst+tps*since)
			}
		}
		// Within any span, a send recorded late may meet the next bucket's.
		for i := range sends {
			n := 0
			for j := i; j < len(sends); j++ {
				n += sends[j].segments
				span := sends[j].at.Sub(sends[i].at).Seconds()
				if float64(n) > 2*burst+tps*span+1e-6 {
					t.Fatalf("%d segments sent within %.3fs from %v; want at most %.1f", n, span, sends[i].at.Sub(start), 2*burst+tps*span)
				}
			}
		}
		// Not slower than the limit either: after the first burst, tps.
		if took, want := sends[len(sends)-1].at.Sub(start), time.Duration(float64(total)-burst)*time.Second/tps; took > want+time.Second {
			t.Errorf("last message sent after %v, want about %v at %d tps", took, want, tps)
		}
		for _, id := range ids {
			m := h.msg(id)
			if m.Attempts != 1 || m.Provider != "a" || m.Candidate != 0 {
				t.Errorf("message %s: %d attempts at %q (candidate %d), want 1 at a: throttling is no attempt and no failover", id, m.Attempts, m.Provider, m.Candidate)
			}
			if got := h.history(id); !slices.Equal(got, []string{"queued", "sent"}) {
				t.Errorf("message %s history %q, want queued, sent", id, got)
			}
		}
	})
}

// What the bucket cannot send within ThrottleWait goes back to the queue
// at once, untried and due at its turn, instead of holding its lease.
func TestTPSReleasesWhatCannotWait(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		h.d = dispatch.New(s, h.hub, dispatch.Options{Limits: dispatch.Limits{"a": {TPS: 1}}, ThrottleWait: time.Second,
			Now: h.clock.Now, SleepUntil: h.clock.advanceTo, Logger: storetest.Logger(t)})
		// b is unlimited and comes first, so its sends are recorded while
		// a's messages are held back.
		toB := h.queue([]string{"b"}, 3, func(m *store.Message) { m.NextAttemptAt = start.Add(-time.Second) })
		ids := h.queue([]string{"a"}, 5)
		h.hub.onAlways("a", accept())
		h.hub.onAlways("b", accept())
		if n := h.dispatch(); n != 8 {
			t.Fatalf("claimed %d, want 8", n)
		}
		perProvider := map[string]int{}
		for _, c := range h.hub.sends() {
			perProvider[c.provider]++
		}
		if perProvider["a"] != 2 || perProvider["b"] != 3 {
			t.Errorf("sends in the first round %v, want 2 to a (one token at once, one a second later) and 3 to b", perProvider)
		}
		for _, id := range toB {
			if m := h.msg(id); m.Status != "sent" {
				t.Errorf("unlimited b's message %s is %s, want sent", id, m.Status)
			}
		}
		var held []store.Message
		for _, id := range ids {
			if m := h.msg(id); m.Status != "sent" {
				held = append(held, m)
			}
		}
		if len(held) != 3 {
			t.Fatalf("%d messages held back, want 3", len(held))
		}
		sort.Slice(held, func(i, j int) bool { return held[i].NextAttemptAt.Before(held[j].NextAttemptAt) })
		for i, m := range held {
			id := m.ID
			if m.Status != "queued" || m.Attempts != 0 || m.LeaseUntil != nil || m.ErrorCode != "" {
				t.Errorf("held message %s: status %s, %d attempts, lease %v, error %q; want queued, untried, unleased", id, m.Status, m.Attempts, m.LeaseUntil, m.ErrorCode)
			}
			if want := start.Add(time.Duration(2+i) * time.Second); m.NextAttemptAt.Sub(want).Abs() > time.Millisecond {
				t.Errorf("held message %s due at %v, want its turn %v", id, m.NextAttemptAt.Sub(start), want.Sub(start))
			}
			if got := h.history(id); !slices.Equal(got, []string{"queued"}) {
				t.Errorf("held message %s history %q, want only queued", id, got)
			}
		}
	})
}

// No more than concurrency Send calls run at once at a provider; the rest
// wait for a slot and are sent in the same round.
func TestConcurrencyCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{Limits: dispatch.Limits{"a": {Concurrency: 2}}, ThrottleWait: 30 * time.Second, Parallel: 8})
		ids := h.queue([]string{"a"}, 6)
		entered := make(chan struct{}, 6)
		release := make(chan struct{})
		var mu sync.Mutex
		inFlight, most := 0, 0
		h.hub.onAlways("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			entered <- struct{}{}
			<-release
			mu.Lock()
			inFlight--
			mu.Unlock()
			return accept()(name, msgs)
		})
		done := make(chan int)
		go func() {
			n, err := h.d.DispatchOnce(context.Background())
			if err != nil {
				t.Errorf("DispatchOnce: %v", err)
			}
			done <- n
		}()
		// Let one call go each time two are in flight: the cap is reached
		// every time, and never passed (most would show it).
		received, released := 0, 0
		for released < len(ids) {
			if received-released < 2 && received < len(ids) {
				select {
				case <-entered:
					received++
				case <-time.After(30 * time.Second):
					t.Fatalf("only %d of %d sends started", received, len(ids))
				}
				continue
			}
			release <- struct{}{}
			released++
		}
		<-done
		if most != 2 {
			t.Errorf("at most %d Send calls at once, want 2", most)
		}
		for _, id := range ids {
			if m := h.msg(id); m.Status != "sent" || m.Attempts != 1 {
				t.Errorf("message %s is %s after %d attempts, want sent after 1", id, m.Status, m.Attempts)
			}
		}
	})
}

// signalWriter tells waiters when a log line contains a phrase.
type signalWriter struct {
	phrase string
	ch     chan struct{}
}

func (w signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.phrase) {
		w.ch <- struct{}{}
	}
	return len(p), nil
}

// A chunk that finds no free slot within ThrottleWait goes back to the
// queue untried rather than holding its lease while it waits.
func TestConcurrencyCapReleasesWhatCannotWait(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		gaveUp := signalWriter{phrase: "provider at its concurrency limit", ch: make(chan struct{}, 4)}
		log := hclog.New(&hclog.LoggerOptions{Level: hclog.Debug, Output: io.MultiWriter(gaveUp)})
		h.d = dispatch.New(s, h.hub, dispatch.Options{Limits: dispatch.Limits{"a": {Concurrency: 1}},
			ThrottleWait: 20 * time.Millisecond, Now: h.clock.Now, Logger: log})
		ids := h.queue([]string{"a"}, 3)
		release := make(chan struct{})
		var sent []string
		h.hub.onAlways("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			sent = append(sent, msgs[0].ID)
			<-release
			return accept()(name, msgs)
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := h.d.DispatchOnce(context.Background()); err != nil {
				t.Errorf("DispatchOnce: %v", err)
			}
		}()
		for range 2 {
			select {
			case <-gaveUp.ch:
			case <-time.After(30 * time.Second):
				t.Fatal("the chunks waiting for a slot never gave up")
			}
		}
		close(release)
		<-done
		if len(sent) != 1 {
			t.Fatalf("%d sends, want 1", len(sent))
		}
		for _, id := range ids {
			m := h.msg(id)
			if id == sent[0] {
				if m.Status != "sent" {
					t.Errorf("the message sent is %s", m.Status)
				}
				continue
			}
			if m.Status != "queued" || m.Attempts != 0 || m.LeaseUntil != nil {
				t.Errorf("message %s: %s after %d attempts, lease %v; want queued, untried, unleased", id, m.Status, m.Attempts, m.LeaseUntil)
			}
			h.wantDueIn(m, 20*time.Millisecond, 20*time.Millisecond)
		}
	})
}

// Limits change while running, as a config reload changes them.
func TestSetLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		h.d = dispatch.New(s, h.hub, dispatch.Options{Limits: dispatch.Limits{"a": {TPS: 1}}, ThrottleWait: time.Millisecond,
			Now: h.clock.Now, SleepUntil: h.clock.advanceTo, Logger: storetest.Logger(t)})
		if got := h.d.Limits(); len(got) != 1 || got["a"] != (config.Limits{TPS: 1}) {
			t.Errorf("Limits() = %v, want a at 1 tps", got)
		}
		h.hub.onAlways("a", accept())
		h.queue([]string{"a"}, 3)
		h.dispatch()
		if got := len(h.hub.sends()); got != 1 {
			t.Fatalf("%d sent at 1 tps, want 1", got)
		}

		h.d.SetLimits(dispatch.Limits{"a": {TPS: 100, Concurrency: 4}})
		if got := h.d.Limits(); got["a"] != (config.Limits{TPS: 100, Concurrency: 4}) {
			t.Errorf("Limits() = %v after SetLimits, want a at 100 tps and 4 at once", got)
		}
		h.clock.Advance(time.Second)
		h.queue([]string{"a"}, 10)
		// The 10 new ones and the first held back (its turn was a second
		// later); the bucket now holds 100.
		if n := h.dispatch(); n != 11 {
			t.Fatalf("claimed %d, want 11", n)
		}
		if got := len(h.hub.sends()); got != 11 {
			t.Errorf("%d sent at 100 tps, want 11", got)
		}

		h.d.SetLimits(nil)
		if got := h.d.Limits(); len(got) != 0 {
			t.Errorf("Limits() = %v after removing them, want none", got)
		}
		h.queue([]string{"a"}, 50)
		h.dispatch()
		if got := len(h.hub.sends()); got != 50 {
			t.Errorf("%d sent without limits, want 50", got)
		}
	})
}

// A message scheduled for later is not claimed, nor sent, before its time.
func TestScheduledNotSentEarly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		at := start.Add(time.Hour)
		id := h.queue([]string{"a"}, 1, func(m *store.Message) {
			m.NextAttemptAt, m.SendAt, m.ExpiresAt = at, &at, at.Add(time.Hour)
		})[0]
		h.clock.Advance(59*time.Minute + 59*time.Second)
		if n := h.dispatch(); n != 0 {
			t.Fatalf("claimed %d a second before the scheduled time", n)
		}
		if next, ok, err := s.NextDue(context.Background()); err != nil || !ok || !next.Equal(at) {
			t.Errorf("NextDue = %v %v %v, want the scheduled time", next, ok, err)
		}
		h.clock.Advance(time.Second)
		h.hub.on("a", accept())
		if n := h.dispatch(); n != 1 {
			t.Fatalf("claimed %d at the scheduled time, want 1", n)
		}
		if m := h.msg(id); m.Status != "sent" || !sameTime(m.SentAt, at) || !sameTime(m.SendAt, at) {
			t.Errorf("status %s sent_at %v send_at %v, want sent at %v", m.Status, m.SentAt, m.SendAt, at)
		}
	})
}

// A message retried with backoff comes back no later than its expiry, and
// then expires without a send.
func TestPendingExpiresOnTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{MinRetry: time.Hour, MaxRetry: time.Hour})
		expires := start.Add(10 * time.Minute)
		id := h.queue([]string{"a"}, 1, func(m *store.Message) { m.ExpiresAt = expires })[0]
		h.hub.on("a", failWith(pluginhost.ErrUnavailable))
		h.dispatch()
		m := h.msg(id)
		if m.Status != "pending" || !m.NextAttemptAt.Equal(expires) {
			t.Fatalf("status %s due %v, want pending until its expiry %v", m.Status, m.NextAttemptAt, expires)
		}
		h.clock.Set(expires)
		h.dispatch() // the provider is not asked: no scripted answer left
		m = h.msg(id)
		if m.Status != "expired" || m.ErrorCode != "EXPIRED" || !sameTime(m.FailedAt, expires) {
			t.Errorf("status %s code %q failed_at %v, want expired at %v", m.Status, m.ErrorCode, m.FailedAt, expires)
		}
		if got, want := h.history(id), []string{"queued", "pending", "expired"}; !slices.Equal(got, want) {
			t.Errorf("history %q, want %q", got, want)
		}
	})
}

// A message with more segments than the provider's bucket holds goes alone
// as soon as the bucket is full, taking the whole window: the messages after
// it wait in proportion to its segments. It is never held back for good (it
// was, while every token of its call had to fall within ThrottleWait).
func TestTPSOversizedMessageGoesAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tps := range []float64{0.5, 1, 2} {
			for segs := 1; segs <= 5; segs++ {
				t.Run(fmt.Sprintf("tps %v %d segments", tps, segs), func(t *testing.T) {
					h := newHarness(t, s, dispatch.Options{})
					h.d = dispatch.New(s, h.hub, dispatch.Options{Limits: dispatch.Limits{"a": {TPS: tps}},
						ThrottleWait: time.Second, Now: h.clock.Now, SleepUntil: h.clock.advanceTo, Logger: storetest.Logger(t)})
					long := h.queue([]string{"a"}, 1, func(m *store.Message) { m.Segments = segs })[0]
					next := h.queue([]string{"a"}, 1, func(m *store.Message) { m.NextAttemptAt = start.Add(time.Millisecond) })[0]
					var mu sync.Mutex
					var sends []timedSend
					h.hub.onAlways("a", recordSends(h.clock, &mu, &sends))
					h.drain([]string{long, next}, 20)

					if len(sends) != 2 || sends[0].segments != segs {
						t.Fatalf("sends %+v, want the %d-segment message then the 1-segment one", sends, segs)
					}
					// The bucket holds one second's worth, at least one
					// segment; the long message empties it and runs it into
					// debt, and the next segment waits until it is repaid.
					bucket := max(1, int(math.Ceil(tps)))
					wantNext := time.Duration(float64(max(0, segs+1-bucket)) / tps * float64(time.Second))
					if got := sends[0].at.Sub(start); got != 0 {
						t.Errorf("%d-segment message sent after %v, want at once: a full bucket lets it go alone", segs, got)
					}
					if got := sends[1].at.Sub(start); (got - wantNext).Abs() > time.Millisecond {
						t.Errorf("the message after it sent after %v, want %v (%d segments at %v tps)", got, wantNext, segs, tps)
					}
					for _, id := range []string{long, next} {
						if m := h.msg(id); m.Attempts != 1 || m.Candidate != 0 {
							t.Errorf("message %s: %d attempts, candidate %d; want 1 attempt at a", id, m.Attempts, m.Candidate)
						}
					}
				})
			}
		}
	})
}
