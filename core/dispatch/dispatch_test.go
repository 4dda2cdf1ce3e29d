package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const account = "acc_dispatchtest"

// start is a round instant, so that both drivers store it exactly.
var start = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: start} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// sendStep is one scripted answer of a fake provider to one Send call.
type sendStep func(name string, msgs []message.Outgoing) ([]message.SendResult, error)

// each answers every message of the batch with f.
func each(f func(name string, m message.Outgoing) message.SendResult) sendStep {
	return func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
		out := make([]message.SendResult, len(msgs))
		for i, m := range msgs {
			out[i] = f(name, m)
		}
		return out, nil
	}
}

func providerID(name, msgID string) string { return name + "/" + msgID }

func accept() sendStep {
	return each(func(name string, m message.Outgoing) message.SendResult {
		return message.SendResult{MessageID: m.ID, Outcome: message.OutcomeAccepted, ProviderMessageID: providerID(name, m.ID), Code: "0"}
	})
}

func temporary(code, reason string, after time.Duration) sendStep {
	return each(func(_ string, m message.Outgoing) message.SendResult {
		return message.SendResult{MessageID: m.ID, Outcome: message.OutcomeTemporary, Code: code, Reason: reason, RetryAfter: after}
	})
}

func permanent(code, reason string) sendStep {
	return each(func(_ string, m message.Outgoing) message.SendResult {
		return message.SendResult{MessageID: m.ID, Outcome: message.OutcomeRefused, Code: code, Reason: reason}
	})
}

func failWith(err error) sendStep {
	return func(string, []message.Outgoing) ([]message.SendResult, error) { return nil, err }
}

type sendCall struct {
	provider string
	ids      []string
}

// fakeHub is an in-process dispatch.Providers: each provider answers Send
// from a queue of scripted steps, then from its fallback step if it has one.
// A Send nobody scripted fails the test.
type fakeHub struct {
	t *testing.T

	mu          sync.Mutex
	steps       map[string][]sendStep
	always      map[string]sendStep
	batch       map[string]int
	providerErr map[string]error
	queriers    map[string]func(ids []string) ([]message.Report, error)
	calls       []sendCall
	queried     [][]string
}

func newHub(t *testing.T) *fakeHub {
	return &fakeHub{t: t, steps: map[string][]sendStep{}, always: map[string]sendStep{}, batch: map[string]int{},
		providerErr: map[string]error{}, queriers: map[string]func([]string) ([]message.Report, error){}}
}

func (h *fakeHub) on(name string, steps ...sendStep) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.steps[name] = append(h.steps[name], steps...)
}

func (h *fakeHub) onAlways(name string, step sendStep) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.always[name] = step
}

func (h *fakeHub) Capabilities(name string) (pluginhost.Capabilities, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.providerErr[name]; err != nil {
		return pluginhost.Capabilities{}, err
	}
	_, query := h.queriers[name]
	return pluginhost.Capabilities{MaxBatchSize: h.batch[name], StatusQuery: query}, nil
}

func (h *fakeHub) QueryStatus(_ context.Context, name string, ids []string) ([]message.Report, error) {
	h.mu.Lock()
	h.queried = append(h.queried, slices.Clone(ids))
	f := h.queriers[name]
	h.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("provider %s: %w", name, pluginhost.ErrNotSupported)
	}
	return f(ids)
}

func (h *fakeHub) QuerySent(_ context.Context, name string, _ []string) ([]pluginhost.Sent, error) {
	return nil, fmt.Errorf("provider %s: %w", name, pluginhost.ErrNotSupported)
}

func (h *fakeHub) Send(ctx context.Context, name string, msgs []message.Outgoing) ([]message.SendResult, error) {
	h.mu.Lock()
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	h.calls = append(h.calls, sendCall{provider: name, ids: ids})
	var step sendStep
	if q := h.steps[name]; len(q) > 0 {
		step, h.steps[name] = q[0], q[1:]
	} else {
		step = h.always[name]
	}
	h.mu.Unlock()
	if step == nil {
		h.t.Errorf("unexpected Send to provider %s with %d messages", name, len(msgs))
		return nil, fmt.Errorf("provider %s has no scripted answer", name)
	}
	return step(name, msgs)
}

// sends returns the Send calls made since the last call of sends.
func (h *fakeHub) sends() []sendCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.calls
	h.calls = nil
	return out
}

func (h *fakeHub) unused() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for name, q := range h.steps {
		if len(q) > 0 {
			out[name] = len(q)
		}
	}
	return out
}

// harness runs a Dispatcher over a real store, a fake hub and a fake clock.
type harness struct {
	t     *testing.T
	s     *store.Store
	clock *fakeClock
	hub   *fakeHub
	d     *dispatch.Dispatcher
}

func newHarness(t *testing.T, s *store.Store, o dispatch.Options) *harness {
	h := &harness{t: t, s: s, clock: newClock(), hub: newHub(t)}
	o.Now = h.clock.Now
	o.Logger = storetest.Logger(t)
	h.d = dispatch.New(s, h.hub, o)
	t.Cleanup(func() {
		if left := h.hub.unused(); len(left) > 0 && !t.Failed() {
			t.Errorf("scripted answers never asked for: %v", left)
		}
	})
	return h
}

// queue stores n messages due now with the given plan.
func (h *harness) queue(plan []string, n int, edit ...func(*store.Message)) []string {
	h.t.Helper()
	p, err := json.Marshal(plan)
	if err != nil {
		h.t.Fatal(err)
	}
	now := h.clock.Now()
	msgs := make([]*store.Message, n)
	ids := make([]string, n)
	for i := range msgs {
		m := &store.Message{ID: recordid.New("msg_"), AccountID: account, Recipient: "+959123456789", Sender: "Shop",
			Text: fmt.Sprintf("hello %d", i), Encoding: "gsm7", Segments: 1, Kind: "sms", Country: "MM",
			Status: message.Queued, Route: "test", Plan: string(p),
			NextAttemptAt: now, ExpiresAt: now.Add(24 * time.Hour), CreatedAt: now, UpdatedAt: now}
		for _, f := range edit {
			f(m)
		}
		msgs[i], ids[i] = m, m.ID
	}
	if err := storetest.InsertMessages(context.Background(), h.s, msgs); err != nil {
		h.t.Fatalf("InsertMessages: %v", err)
	}
	return ids
}

func (h *harness) dispatch() int {
	h.t.Helper()
	n, err := h.d.DispatchOnce(context.Background())
	if err != nil {
		h.t.Fatalf("DispatchOnce: %v", err)
	}
	return n
}

func (h *harness) msg(id string) store.Message {
	h.t.Helper()
	m, err := h.s.GetMessage(context.Background(), account, id)
	if err != nil {
		h.t.Fatalf("GetMessage(%s): %v", id, err)
	}
	return m
}

// history lists the message's stored statuses, oldest first.
func (h *harness) history(id string) []string {
	h.t.Helper()
	changes, err := storetest.StatusHistory(context.Background(), h.s, id)
	if err != nil {
		h.t.Fatalf("StatusHistory(%s): %v", id, err)
	}
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = string(c.Status)
		if !c.Applied {
			out[i] += " (not applied)"
		}
	}
	return out
}

// wantDueIn checks that the message is next due between lo and hi after
// the clock's now. PostgreSQL keeps microseconds, hence the slack.
func (h *harness) wantDueIn(m store.Message, lo, hi time.Duration) {
	h.t.Helper()
	got := m.NextAttemptAt.Sub(h.clock.Now())
	if got < lo-time.Microsecond || got > hi+time.Microsecond {
		h.t.Errorf("message %s next attempt in %v, want between %v and %v", m.ID, got, lo, hi)
	}
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

// TestDispatchOneRound checks what one DispatchOnce makes of each kind of
// provider answer.
func TestDispatchOneRound(t *testing.T) {
	unavailable := fmt.Errorf("provider a: plugin process exited: %w", pluginhost.ErrUnavailable)
	tests := []struct {
		name    string
		plan    []string
		edit    func(*store.Message)
		step    sendStep // a's answer; nil means a must not be asked
		wantOut func(t *testing.T, h *harness, m store.Message)
		history []string
	}{
		{
			name: "accepted is sent with the provider's id",
			plan: []string{"a"},
			step: accept(),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "sent" || m.Provider != "a" || m.ProviderMessageID != providerID("a", m.ID) {
					t.Errorf("status %s at %q id %q, want sent at a with id %q", m.Status, m.Provider, m.ProviderMessageID, providerID("a", m.ID))
				}
				if !sameTime(m.SentAt, start) || m.FailedAt != nil || m.LeaseUntil != nil {
					t.Errorf("sent_at %v failed_at %v lease %v, want sent_at %v and no lease", m.SentAt, m.FailedAt, m.LeaseUntil, start)
				}
				if m.ErrorCode != "" || m.ErrorMessage != "" || m.Attempts != 1 {
					t.Errorf("error %q %q attempts %d, want no error and 1 attempt", m.ErrorCode, m.ErrorMessage, m.Attempts)
				}
			},
			history: []string{"queued", "sent"},
		},
		{
			name: "permanent fails with the provider's code and reason",
			plan: []string{"a", "b"},
			step: permanent("21211", "invalid destination number"),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "failed" || m.ErrorCode != "21211" || !strings.Contains(m.ErrorMessage, "invalid destination number") {
					t.Errorf("status %s error %q %q, want failed with 21211 and the reason", m.Status, m.ErrorCode, m.ErrorMessage)
				}
				if !sameTime(m.FailedAt, start) || m.SentAt != nil || m.ProviderMessageID != "" {
					t.Errorf("failed_at %v sent_at %v pid %q, want failed_at %v only", m.FailedAt, m.SentAt, m.ProviderMessageID, start)
				}
			},
			history: []string{"queued", "failed"},
		},
		{
			name: "temporary at the first candidate fails over at once",
			plan: []string{"a", "b"},
			step: temporary("88", "throttled", time.Hour),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "queued" || m.Candidate != 1 || !m.NextAttemptAt.Equal(start) {
					t.Errorf("status %s candidate %d due %v, want queued for candidate 1 at once (%v)", m.Status, m.Candidate, m.NextAttemptAt, start)
				}
				if m.ErrorCode != "88" || !strings.Contains(m.ErrorMessage, "throttled") || m.SentAt != nil {
					t.Errorf("error %q %q sent_at %v, want the attempt's error kept", m.ErrorCode, m.ErrorMessage, m.SentAt)
				}
			},
			history: []string{"queued", "queued"},
		},
		{
			name: "temporary at the last candidate honours a long RetryAfter",
			plan: []string{"a"},
			step: temporary("88", "throttled", time.Hour),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "queued" || m.Candidate != 0 || !m.NextAttemptAt.Equal(start.Add(time.Hour)) {
					t.Errorf("status %s candidate %d due %v, want queued for candidate 0 at %v", m.Status, m.Candidate, m.NextAttemptAt, start.Add(time.Hour))
				}
			},
			history: []string{"queued", "queued"},
		},
		{
			name: "temporary at the last candidate backs off when RetryAfter is shorter",
			plan: []string{"a"},
			step: temporary("88", "throttled", time.Millisecond),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "queued" || m.Candidate != 0 {
					t.Errorf("status %s candidate %d, want queued for candidate 0", m.Status, m.Candidate)
				}
				h.wantDueIn(m, 5*time.Second, 10*time.Second)
			},
			history: []string{"queued", "queued"},
		},
		{
			name: "unavailable plugin on a one-candidate plan leaves the message pending",
			plan: []string{"a"},
			step: failWith(unavailable),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "pending" || m.Candidate != 0 || m.FailedAt != nil {
					t.Errorf("status %s candidate %d failed_at %v, want pending for candidate 0", m.Status, m.Candidate, m.FailedAt)
				}
				if m.ErrorCode != "SEND_ERROR" || !strings.Contains(m.ErrorMessage, "plugin process exited") {
					t.Errorf("error %q %q, want SEND_ERROR with the cause", m.ErrorCode, m.ErrorMessage)
				}
				h.wantDueIn(m, 5*time.Second, 10*time.Second)
			},
			history: []string{"queued", "pending"},
		},
		{
			name: "unavailable plugin at the first candidate fails over",
			plan: []string{"a", "b"},
			step: failWith(unavailable),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "queued" || m.Candidate != 1 || !m.NextAttemptAt.Equal(start) {
					t.Errorf("status %s candidate %d due %v, want queued for candidate 1 at once", m.Status, m.Candidate, m.NextAttemptAt)
				}
			},
			history: []string{"queued", "queued"},
		},
		{
			name: "a provider error that is not unavailability is retried, not pending",
			plan: []string{"a"},
			step: failWith(errors.New("upstream answered HTTP 503")),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "queued" || m.ErrorCode != "SEND_ERROR" {
					t.Errorf("status %s error %q, want queued with SEND_ERROR", m.Status, m.ErrorCode)
				}
				h.wantDueIn(m, 5*time.Second, 10*time.Second)
			},
			history: []string{"queued", "queued"},
		},
		{
			name: "a result without an outcome is a retry",
			plan: []string{"a", "b"},
			step: each(func(_ string, m message.Outgoing) message.SendResult { return message.SendResult{MessageID: m.ID} }),
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "queued" || m.Candidate != 1 {
					t.Errorf("status %s candidate %d, want queued for candidate 1", m.Status, m.Candidate)
				}
			},
			history: []string{"queued", "queued"},
		},
		{
			name: "a message past its validity expires without a send",
			plan: []string{"a"},
			edit: func(m *store.Message) { m.ExpiresAt = start },
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "expired" || m.ErrorCode != "EXPIRED" || !sameTime(m.FailedAt, start) || m.SentAt != nil {
					t.Errorf("status %s error %q failed_at %v sent_at %v, want expired with failed_at %v", m.Status, m.ErrorCode, m.FailedAt, m.SentAt, start)
				}
			},
			history: []string{"queued", "expired"},
		},
		{
			name: "a message without candidates fails",
			plan: []string{},
			wantOut: func(t *testing.T, h *harness, m store.Message) {
				if m.Status != "failed" || m.ErrorCode != "NO_CANDIDATE" || m.FailedAt == nil {
					t.Errorf("status %s error %q failed_at %v, want failed with NO_CANDIDATE", m.Status, m.ErrorCode, m.FailedAt)
				}
			},
			history: []string{"queued", "failed"},
		},
	}
	// One store per driver keeps the run short; each case empties the queue
	// after itself.
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Cleanup(func() {
					if err := s.DB().Exec("DELETE FROM messages").Error; err != nil {
						t.Errorf("empty the queue: %v", err)
					}
				})
				h := newHarness(t, s, dispatch.Options{MinRetry: 10 * time.Second, MaxRetry: time.Minute})
				var edits []func(*store.Message)
				if tt.edit != nil {
					edits = append(edits, tt.edit)
				}
				id := h.queue(tt.plan, 1, edits...)[0]
				if tt.step != nil {
					h.hub.on("a", tt.step)
				}
				if n := h.dispatch(); n != 1 {
					t.Fatalf("DispatchOnce claimed %d messages, want 1", n)
				}
				calls := h.hub.sends()
				wantCalls := 0
				if tt.step != nil {
					wantCalls = 1
				}
				if len(calls) != wantCalls {
					t.Errorf("Send called %d times (%v), want %d", len(calls), calls, wantCalls)
				}
				tt.wantOut(t, h, h.msg(id))
				if got := h.history(id); !slices.Equal(got, tt.history) {
					t.Errorf("history %q, want %q", got, tt.history)
				}
			})
		}
	})
}

func TestFailoverThenBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{MinRetry: 10 * time.Second, MaxRetry: 40 * time.Second})
		// Enough messages that the jitter of each is checked many times.
		ids := h.queue([]string{"a", "b"}, 20)
		h.hub.onAlways("a", temporary("THROTTLED", "a is busy", 0))
		h.hub.onAlways("b", temporary("QUEUE_FULL", "b is busy", 0))

		// Each round of the plan doubles the backoff until MaxRetry; the
		// jitter keeps each wait within its upper half.
		bounds := []struct{ lo, hi time.Duration }{
			{5 * time.Second, 10 * time.Second},
			{10 * time.Second, 20 * time.Second},
			{20 * time.Second, 40 * time.Second},
			{20 * time.Second, 40 * time.Second},
		}
		for round, b := range bounds {
			if n := h.dispatch(); n != len(ids) {
				t.Fatalf("round %d at a: claimed %d, want %d", round, n, len(ids))
			}
			for _, c := range h.hub.sends() {
				if c.provider != "a" {
					t.Fatalf("round %d: sent to %s, want a", round, c.provider)
				}
			}
			// Failover: due at once, at the second candidate.
			if n := h.dispatch(); n != len(ids) {
				t.Fatalf("round %d at b: claimed %d, want %d (failover must be immediate)", round, n, len(ids))
			}
			for _, c := range h.hub.sends() {
				if c.provider != "b" {
					t.Fatalf("round %d: sent to %s, want b", round, c.provider)
				}
			}
			latest := h.clock.Now()
			for _, id := range ids {
				m := h.msg(id)
				if m.Status != "queued" || m.Candidate != 0 || m.Attempts != 2*(round+1) {
					t.Fatalf("round %d: status %s candidate %d attempts %d, want queued, back at candidate 0, %d attempts",
						round, m.Status, m.Candidate, m.Attempts, 2*(round+1))
				}
				if !strings.Contains(m.ErrorMessage, "b is busy") {
					t.Errorf("round %d: error message %q, want b's reason", round, m.ErrorMessage)
				}
				h.wantDueIn(m, b.lo, b.hi)
				if m.NextAttemptAt.After(latest) {
					latest = m.NextAttemptAt
				}
			}
			if n := h.dispatch(); n != 0 {
				t.Fatalf("round %d: claimed %d messages before their backoff ran out", round, n)
			}
			h.clock.Set(latest)
		}
	})
}

func TestPendingUntilPluginReturns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{MinRetry: 10 * time.Second})
		id := h.queue([]string{"a"}, 1)[0]
		h.hub.on("a", failWith(fmt.Errorf("call Send: %w", pluginhost.ErrUnavailable)), accept())

		h.dispatch()
		m := h.msg(id)
		if m.Status != "pending" {
			t.Fatalf("status %s after an unavailable plugin, want pending", m.Status)
		}
		if n := h.dispatch(); n != 0 {
			t.Fatalf("a pending message was claimed again before its retry time (%d claimed)", n)
		}
		h.clock.Set(m.NextAttemptAt)
		if n := h.dispatch(); n != 1 {
			t.Fatalf("claimed %d at the retry time, want 1", n)
		}
		m = h.msg(id)
		if m.Status != "sent" || m.ProviderMessageID != providerID("a", id) || !sameTime(m.SentAt, h.clock.Now()) {
			t.Errorf("status %s id %q sent_at %v, want sent with a's id at %v", m.Status, m.ProviderMessageID, m.SentAt, h.clock.Now())
		}
		if m.ErrorCode != "" || m.ErrorMessage != "" {
			t.Errorf("error %q %q kept after the message was sent", m.ErrorCode, m.ErrorMessage)
		}
		if got, want := h.history(id), []string{"queued", "pending", "sent"}; !slices.Equal(got, want) {
			t.Errorf("history %q, want %q", got, want)
		}
	})
}

func TestBatchesFollowMaxBatchSize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{Parallel: 2})
		h.hub.batch["a"] = 3
		toA := h.queue([]string{"a"}, 10)
		toB := h.queue([]string{"b", "a"}, 2) // b declares no batch size: one per call
		h.hub.onAlways("a", accept())
		h.hub.onAlways("b", accept())

		if n := h.dispatch(); n != 12 {
			t.Fatalf("claimed %d, want 12", n)
		}
		got := map[string][]string{}
		calls := map[string][]int{}
		for _, c := range h.hub.sends() {
			got[c.provider] = append(got[c.provider], c.ids...)
			calls[c.provider] = append(calls[c.provider], len(c.ids))
		}
		sort.Ints(calls["a"])
		if want := []int{1, 3, 3, 3}; !slices.Equal(calls["a"], want) {
			t.Errorf("batch sizes sent to a: %v, want %v", calls["a"], want)
		}
		if want := []int{1, 1}; !slices.Equal(calls["b"], want) {
			t.Errorf("batch sizes sent to b: %v, want %v", calls["b"], want)
		}
		for name, want := range map[string][]string{"a": toA, "b": toB} {
			slices.Sort(want)
			slices.Sort(got[name])
			if !slices.Equal(got[name], want) {
				t.Errorf("%s got messages %v, want each of %v once", name, got[name], want)
			}
		}
		for _, id := range append(toA, toB...) {
			if m := h.msg(id); m.Status != "sent" {
				t.Errorf("message %s is %s, want sent", id, m.Status)
			}
		}
	})
}

func TestMessageSentToProviderAsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		id := h.queue([]string{"a"}, 1, func(m *store.Message) {
			m.Text, m.Encoding, m.Segments, m.Kind, m.Sender = "Mingalaba မင်္ဂလာပါ", "ucs2", 2, "otp", "MyShop"
		})[0]
		var got []message.Outgoing
		h.hub.on("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			got = slices.Clone(msgs)
			return accept()(name, msgs)
		})
		h.dispatch()
		want := message.Outgoing{ID: id, To: "+959123456789", From: "MyShop", Text: "Mingalaba မင်္ဂလာပါ",
			Encoding: "ucs2", Segments: 2, Kind: "otp", ValidUntil: start.Add(24 * time.Hour)}
		if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
			t.Errorf("Send got %+v, want [%+v]", got, want)
		}
	})
}

// A message that was finalised while its Send was in flight (cancelled by
// an operator, failed by another path) keeps its final status.
func TestLateAttemptDoesNotReviveMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		id := h.queue([]string{"a"}, 1)[0]
		h.hub.on("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			err := s.DB().Model(&store.Message{}).Where("id = ?", id).
				Updates(map[string]any{"status": "failed", "error_code": "CANCELLED"}).Error
			if err != nil {
				t.Errorf("finalise message meanwhile: %v", err)
			}
			return accept()(name, msgs)
		})
		h.dispatch()
		m := h.msg(id)
		if m.Status != "failed" || m.ErrorCode != "CANCELLED" || m.ProviderMessageID != "" || m.SentAt != nil {
			t.Errorf("status %s error %q pid %q sent_at %v, want the message left failed/CANCELLED", m.Status, m.ErrorCode, m.ProviderMessageID, m.SentAt)
		}
		if got, want := h.history(id), []string{"queued"}; !slices.Equal(got, want) {
			t.Errorf("history %q, want %q", got, want)
		}
	})
}

// Run finishes and records a batch already handed to a provider even when
// it is stopped meanwhile.
func TestRunRecordsInFlightBatchOnStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		hub := newHub(t)
		d := dispatch.New(s, hub, dispatch.Options{Logger: storetest.Logger(t), PollInterval: 50 * time.Millisecond})
		now := time.Now().UTC()
		id := recordid.New("msg_")
		err := storetest.InsertMessages(context.Background(), s, []*store.Message{{ID: id, AccountID: account, Recipient: "+959123456789",
			Text: "hi", Encoding: "gsm7", Segments: 1, Kind: "sms", Status: "queued", Plan: `["a"]`,
			NextAttemptAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}})
		if err != nil {
			t.Fatal(err)
		}
		entered, release := make(chan struct{}), make(chan struct{})
		hub.on("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			close(entered)
			<-release
			return accept()(name, msgs)
		})

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		d.Wake()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
			t.Fatal("Run did not send the due message within 10s")
		}
		cancel()
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v", err)
		}
		m, err := s.GetMessage(context.Background(), account, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != "sent" || m.ProviderMessageID != providerID("a", id) {
			t.Errorf("status %s id %q after stopping, want the accepted answer recorded", m.Status, m.ProviderMessageID)
		}
	})
}

type observation struct {
	provider string
	ok       bool
}

type fakeObserver struct {
	mu  sync.Mutex
	got []observation
}

func (o *fakeObserver) Observe(provider string, ok bool, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, observation{provider, ok})
}

// The observer hears about the provider's health: acceptances and
// failures to take a message, but not refusals of the message itself.
func TestObserverHearsProviderHealth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		obs := &fakeObserver{}
		h := newHarness(t, s, dispatch.Options{Observer: obs})
		h.queue([]string{"a", "b", "c", "d", "e", "f"}, 1)
		h.hub.on("a", accept())
		h.queue([]string{"b"}, 1)
		h.hub.on("b", failWith(fmt.Errorf("gone: %w", pluginhost.ErrUnavailable)))
		h.queue([]string{"c"}, 1)
		h.hub.on("c", temporary("THROTTLED", "slow down", 0))
		h.queue([]string{"d"}, 1)
		h.hub.on("d", permanent("BARRED", "sender barred"))
		h.queue([]string{"e"}, 1)
		// How the plugin host answers for a plugin that broke the
		// one-result-per-message rule (see pluginhost's tests).
		h.hub.on("e", failWith(fmt.Errorf("provider e broke the one-result-per-message rule: %w %w", pluginhost.ErrUnavailable, pluginhost.ErrOutcomeUnknown)))
		h.queue([]string{"f"}, 1)
		h.hub.on("f", failWith(fmt.Errorf("provider f died during Send: %w %w", pluginhost.ErrUnavailable, pluginhost.ErrOutcomeUnknown)))
		h.dispatch()
		obs.mu.Lock()
		got := slices.Clone(obs.got)
		obs.mu.Unlock()
		slices.SortFunc(got, func(x, y observation) int { return strings.Compare(x.provider, y.provider) })
		want := []observation{{"a", true}, {"b", false}, {"c", false}, {"e", false}, {"f", false}}
		if !slices.Equal(got, want) {
			t.Errorf("observed %v, want %v", got, want)
		}
	})
}

// Rounds running at once claim disjoint messages: each is sent once.
func TestOverlappingRoundsSendEachMessageOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		hub := newHub(t)
		d := dispatch.New(s, hub, dispatch.Options{Logger: storetest.Logger(t), PollInterval: 20 * time.Millisecond,
			Rounds: 3, BatchSize: 4})
		const total = 40
		now := time.Now().UTC()
		msgs := make([]*store.Message, total)
		for i := range msgs {
			msgs[i] = &store.Message{ID: recordid.New("msg_"), AccountID: account, Recipient: "+959123456789",
				Text: "hi", Encoding: "gsm7", Segments: 1, Kind: "sms", Status: "queued", Plan: `["a"]`,
				NextAttemptAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
		}
		if err := storetest.InsertMessages(context.Background(), s, msgs); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		sends := map[string]int{}
		all := make(chan struct{})
		hub.onAlways("a", func(name string, batch []message.Outgoing) ([]message.SendResult, error) {
			mu.Lock()
			for _, m := range batch {
				sends[m.ID]++
			}
			if len(sends) == total {
				select {
				case <-all:
				default:
					close(all)
				}
			}
			mu.Unlock()
			return accept()(name, batch)
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		d.Wake()
		select {
		case <-all:
		case <-time.After(20 * time.Second):
			t.Error("not every message was sent within 20s")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range sends {
			if n != 1 {
				t.Errorf("message %s sent %d times, want once", id, n)
			}
		}
	})
}

// fakeHealth reports providers unhealthy while they are in down.
type fakeHealth struct {
	mu   sync.Mutex
	down map[string]string
}

func (f *fakeHealth) set(name, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if why == "" {
		delete(f.down, name)
		return
	}
	f.down[name] = why
}

func (f *fakeHealth) ProviderHealth(name string) (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	why, down := f.down[name]
	return !down, why
}

// A message none of whose candidates is healthy is not sent: it waits as
// pending ("no provider available, will retry") with the reason in its
// status, and is sent at its retry once a candidate is healthy again. An
// unhealthy candidate is skipped for a healthy one later in the plan.
func TestPendingWhileNoCandidateIsHealthy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		health := &fakeHealth{down: map[string]string{}}
		h := newHarness(t, s, dispatch.Options{MinRetry: 10 * time.Second, Health: health})
		only := h.queue([]string{"a"}, 1)[0]
		skips := h.queue([]string{"a", "b"}, 1)[0]
		health.set("a", "health check: SMSC not bound")
		h.hub.onAlways("b", accept())

		h.dispatch()
		m := h.msg(only)
		if m.Status != "pending" || m.ErrorCode != "NO_HEALTHY_PROVIDER" ||
			!strings.Contains(m.ErrorMessage, "no provider available, will retry: a: health check: SMSC not bound") {
			t.Fatalf("only candidate unhealthy: status %s, error %q %q; want pending with a's health in the reason", m.Status, m.ErrorCode, m.ErrorMessage)
		}
		h.wantDueIn(m, 5*time.Second, 10*time.Second)
		if m := h.msg(skips); m.Status != "sent" || m.Provider != "b" || m.Candidate != 1 {
			t.Errorf("first candidate unhealthy: status %s at %q (candidate %d), want sent at b (candidate 1)", m.Status, m.Provider, m.Candidate)
		}
		for _, c := range h.hub.sends() {
			if c.provider == "a" {
				t.Fatalf("sent %v to unhealthy a", c.ids)
			}
		}

		// Still unhealthy at the retry: still pending, backed off further.
		h.clock.Set(m.NextAttemptAt)
		if n := h.dispatch(); n != 1 {
			t.Fatalf("claimed %d at the retry time, want 1", n)
		}
		m = h.msg(only)
		if m.Status != "pending" {
			t.Fatalf("status %s while a is still unhealthy, want pending", m.Status)
		}
		h.wantDueIn(m, 10*time.Second, 20*time.Second)

		health.set("a", "")
		h.hub.on("a", accept())
		h.clock.Set(m.NextAttemptAt)
		if n := h.dispatch(); n != 1 {
			t.Fatalf("claimed %d once a is healthy again, want 1", n)
		}
		m = h.msg(only)
		if m.Status != "sent" || m.Provider != "a" || m.ErrorCode != "" || m.ErrorMessage != "" {
			t.Errorf("status %s at %q, error %q %q; want sent at a with the pending reason cleared", m.Status, m.Provider, m.ErrorCode, m.ErrorMessage)
		}
		// Each try is recorded, as for a plugin that is down.
		if got, want := h.history(only), []string{"queued", "pending", "pending", "sent"}; !slices.Equal(got, want) {
			t.Errorf("history %q, want %q", got, want)
		}
	})
}

func refuse(refusal message.Refusal, code, reason string) sendStep {
	return each(func(_ string, m message.Outgoing) message.SendResult {
		return message.SendResult{MessageID: m.ID, Outcome: message.OutcomeRefused, Code: code, Reason: reason, Refusal: refusal}
	})
}

// planned records a plan whose candidates fail over on the given refusals.
func planned(entries ...message.PlanEntry) func(*store.Message) {
	return func(m *store.Message) { m.Plan = message.EncodePlan(entries) }
}

// A permanent refusal whose code the candidate lists in failover_on sends
// the message on to the next candidate, where it is delivered; the refusing
// candidate is marked in the plan and never asked again. An unlisted code
// still fails the message, and so does a listed one with no candidate left,
// with the provider's own code and reason.
func TestFailoverOnRefusal(t *testing.T) {
	onSender := []message.Refusal{message.RefusalRejected, message.RefusalInvalidSender}
	tests := []struct {
		name    string
		plan    []message.PlanEntry
		steps   map[string][]sendStep
		want    string // final status
		at      string // provider of the final status
		code    string
		reason  string
		history []string
	}{
		{name: "listed code goes to the next candidate",
			plan:  []message.PlanEntry{{Provider: "a", FailoverOn: onSender}, {Provider: "b"}},
			steps: map[string][]sendStep{"a": {refuse(message.RefusalInvalidSender, "0x0000000A", "sender ACME not registered")}, "b": {accept()}},
			want:  "sent", at: "b", history: []string{"queued", "queued", "sent"}},
		{name: "a plugin's refusal without a class is REJECTED",
			plan:  []message.PlanEntry{{Provider: "a", FailoverOn: onSender}, {Provider: "b"}},
			steps: map[string][]sendStep{"a": {permanent("21999", "refused")}, "b": {accept()}},
			want:  "sent", at: "b", history: []string{"queued", "queued", "sent"}},
		{name: "unlisted code fails",
			plan:  []message.PlanEntry{{Provider: "a", FailoverOn: onSender}, {Provider: "b"}},
			steps: map[string][]sendStep{"a": {refuse(message.RefusalInvalidDestination, "0x0000000B", "no such number")}},
			want:  "failed", at: "a", code: "0x0000000B", reason: "no such number", history: []string{"queued", "failed"}},
		{name: "no failover_on fails as before",
			plan:  []message.PlanEntry{{Provider: "a"}, {Provider: "b"}},
			steps: map[string][]sendStep{"a": {refuse(message.RefusalInvalidSender, "0x0000000A", "sender ACME not registered")}},
			want:  "failed", at: "a", code: "0x0000000A", reason: "sender ACME not registered", history: []string{"queued", "failed"}},
		{name: "listed code with no candidate left fails with the original reason",
			plan:  []message.PlanEntry{{Provider: "a", FailoverOn: onSender}},
			steps: map[string][]sendStep{"a": {refuse(message.RefusalInvalidSender, "0x0000000A", "sender ACME not registered")}},
			want:  "failed", at: "a", code: "0x0000000A", reason: "sender ACME not registered", history: []string{"queued", "failed"}},
		{name: "every candidate refuses: the last one's reason",
			plan: []message.PlanEntry{{Provider: "a", FailoverOn: onSender}, {Provider: "b", FailoverOn: onSender}},
			steps: map[string][]sendStep{"a": {refuse(message.RefusalInvalidSender, "0x0000000A", "sender ACME not registered")},
				"b": {refuse(message.RefusalRejected, "21612", "cannot route")}},
			want: "failed", at: "b", code: "21612", reason: "cannot route", history: []string{"queued", "queued", "failed"}},
		{name: "a refusing candidate is not asked again after a backoff",
			plan: []message.PlanEntry{{Provider: "a", FailoverOn: onSender}, {Provider: "b"}},
			steps: map[string][]sendStep{"a": {refuse(message.RefusalInvalidSender, "0x0000000A", "sender ACME not registered")},
				"b": {temporary("THROTTLED", "b is busy", 0), accept()}},
			want: "sent", at: "b", history: []string{"queued", "queued", "queued", "sent"}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, s, dispatch.Options{MinRetry: time.Second})
				id := h.queue(nil, 1, planned(tt.plan...))[0]
				for name, steps := range tt.steps {
					h.hub.on(name, steps...)
				}
				for range 5 {
					m := h.msg(id)
					if m.Status != "queued" {
						break
					}
					h.clock.Set(m.NextAttemptAt)
					h.dispatch()
				}
				m := h.msg(id)
				if string(m.Status) != tt.want || m.Provider != tt.at {
					t.Fatalf("status %s at %q (error %q %q), want %s at %s", m.Status, m.Provider, m.ErrorCode, m.ErrorMessage, tt.want, tt.at)
				}
				if tt.want == "failed" && (m.ErrorCode != tt.code || m.ErrorMessage != tt.reason) {
					t.Errorf("error %q %q, want the provider's own %q %q", m.ErrorCode, m.ErrorMessage, tt.code, tt.reason)
				}
				if got := h.history(id); !slices.Equal(got, tt.history) {
					t.Errorf("history %q, want %q", got, tt.history)
				}
				// A Send nobody scripted fails the test: a refusing
				// candidate asked again would be one.
				if tt.want == "sent" {
					if e := m.PlanEntries(); len(e) == 0 || e[0].Refused == "" {
						t.Errorf("plan %s does not record a's refusal", m.Plan)
					}
				}
			})
		}
	})
}
