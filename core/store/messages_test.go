package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

const msgAccount = "acc_messagestest"

// msgStart is a round instant, so that both drivers store it exactly.
var msgStart = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// newMessages returns n queued messages for plan, due at due.
func newMessages(n int, plan []string, due time.Time) []*store.Message {
	p, _ := json.Marshal(plan)
	out := make([]*store.Message, n)
	for i := range out {
		out[i] = &store.Message{ID: recordid.New("msg_"), AccountID: msgAccount, Recipient: "+959123456789",
			Text: fmt.Sprintf("hello %d", i), Encoding: "gsm7", Segments: 1, Kind: "sms", Status: message.Queued,
			Plan: string(p), NextAttemptAt: due, ExpiresAt: due.Add(24 * time.Hour), CreatedAt: due, UpdatedAt: due}
	}
	return out
}

func insert(t *testing.T, s *store.Store, msgs ...*store.Message) []string {
	t.Helper()
	if err := storetest.InsertMessages(context.Background(), s, msgs); err != nil {
		t.Fatalf("InsertMessages: %v", err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	return ids
}

func claim(t *testing.T, s *store.Store, now time.Time, limit int, lease time.Duration) []dispatch.Message {
	t.Helper()
	got, err := s.ClaimDue(context.Background(), now, limit, lease)
	if err != nil {
		t.Fatalf("ClaimDue: %v", err)
	}
	return got
}

func ids(msgs []dispatch.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func getMessage(t *testing.T, s *store.Store, id string) store.Message {
	t.Helper()
	m, err := s.GetMessage(context.Background(), msgAccount, id)
	if err != nil {
		t.Fatalf("GetMessage(%s): %v", id, err)
	}
	return m
}

// history lists the message's stored statuses, oldest first, marking
// reports that could not move the message.
func history(t *testing.T, s *store.Store, id string) []string {
	t.Helper()
	changes, err := storetest.StatusHistory(context.Background(), s, id)
	if err != nil {
		t.Fatalf("StatusHistory(%s): %v", id, err)
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

func record(t *testing.T, s *store.Store, results ...message.Attempt) {
	t.Helper()
	if err := s.RecordAttempts(context.Background(), results); err != nil {
		t.Fatalf("RecordAttempts: %v", err)
	}
}

// sentMessage stores a message that provider accepted at msgStart under
// providerMessageID.
func sentMessage(t *testing.T, s *store.Store, provider, providerMessageID string) string {
	t.Helper()
	id := insert(t, s, newMessages(1, []string{provider}, msgStart)...)[0]
	if got := claim(t, s, msgStart, 10, time.Minute); len(got) != 1 {
		t.Fatalf("claimed %d messages, want 1", len(got))
	}
	record(t, s, message.Attempt{MessageID: id, Provider: provider, Status: message.Sent,
		ProviderMessageID: providerMessageID, At: msgStart})
	return id
}

func storeEvents(t *testing.T, s *store.Store, provider string, events ...message.Event) {
	t.Helper()
	if err := s.StoreEvents(context.Background(), provider, events); err != nil {
		t.Fatalf("StoreEvents: %v", err)
	}
}

func statusEvent(id, providerMessageID string, st message.Status, at time.Time) message.Event {
	return message.Event{ID: id, Report: &message.Report{ProviderMessageID: providerMessageID, Status: st, At: at}}
}

func TestInsertAndGetMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		m := newMessages(1, []string{"a", "b"}, msgStart)[0]
		m.Sender, m.Route, m.Country = "MyShop", "mm-otp", "MM"
		insert(t, s, m)
		got := getMessage(t, s, m.ID)
		if got.Recipient != m.Recipient || got.Sender != "MyShop" || got.Route != "mm-otp" || got.Status != "queued" ||
			!got.NextAttemptAt.Equal(msgStart) || !got.ExpiresAt.Equal(m.ExpiresAt) {
			t.Errorf("GetMessage = %+v, want the stored message %+v", got, *m)
		}
		if c := got.Candidates(); !slices.Equal(c, []string{"a", "b"}) {
			t.Errorf("Candidates() = %v, want [a b]", c)
		}
		if _, err := s.GetMessage(context.Background(), "acc_other", m.ID); !isNotFound(err) {
			t.Errorf("GetMessage of another account's message: err = %v, want ErrNotFound", err)
		}
		if _, err := s.GetMessage(context.Background(), msgAccount, "msg_missing"); !isNotFound(err) {
			t.Errorf("GetMessage of an unknown id: err = %v, want ErrNotFound", err)
		}
		if h := history(t, s, m.ID); !slices.Equal(h, []string{"queued"}) {
			t.Errorf("history %q, want [queued]", h)
		}
		if hist, err := storetest.StatusHistory(context.Background(), s, m.ID); err != nil || len(hist) != 1 || !hist[0].At.Equal(got.CreatedAt) {
			t.Errorf("history %+v (%v), want queued at the message's creation, %v", hist, err, got.CreatedAt)
		}
		// A database written before the creation row was left out has it
		// stored: shown once.
		old := newMessages(1, []string{"a"}, msgStart)[0]
		insert(t, s, old)
		created := getMessage(t, s, old.ID).CreatedAt
		if err := s.DB().Create(&store.StatusChange{MessageID: old.ID, Status: "queued", Applied: true, At: created}).Error; err != nil {
			t.Fatal(err)
		}
		if h := history(t, s, old.ID); !slices.Equal(h, []string{"queued"}) {
			t.Errorf("history with a stored creation row %q, want [queued]", h)
		}
		if err := storetest.InsertMessages(context.Background(), s, nil); err != nil {
			t.Errorf("InsertMessages(nil) = %v, want nil", err)
		}
	})
}

func TestClaimDueLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		const lease = 30 * time.Second
		due := insert(t, s, newMessages(2, []string{"a"}, msgStart)...)
		later := insert(t, s, newMessages(1, []string{"a"}, msgStart.Add(time.Hour))...)
		done := newMessages(1, []string{"a"}, msgStart)[0]
		done.Status = message.Sent
		insert(t, s, done)

		first := claim(t, s, msgStart, 10, lease)
		if got := ids(first); !slices.Equal(got, sorted(due)) {
			t.Fatalf("first claim got %v, want the due queued messages %v", got, sorted(due))
		}
		for _, m := range first {
			if m.Attempts != 1 || m.LeaseUntil == nil || !m.LeaseUntil.Equal(msgStart.Add(lease)) {
				t.Errorf("claimed %s: attempts %d lease %v, want 1 attempt and a lease until %v", m.ID, m.Attempts, m.LeaseUntil, msgStart.Add(lease))
			}
		}
		if again := claim(t, s, msgStart, 10, lease); len(again) != 0 {
			t.Fatalf("second claim at the same instant got %v, want nothing", ids(again))
		}
		if again := claim(t, s, msgStart.Add(lease), 10, lease); len(again) != 0 {
			t.Fatalf("claim when the lease just ends got %v, want nothing", ids(again))
		}

		// The claimer died without recording anything: once its lease has
		// run out, the messages are claimed again.
		after := msgStart.Add(lease + time.Second)
		recovered := claim(t, s, after, 10, lease)
		if got := ids(recovered); !slices.Equal(got, sorted(due)) {
			t.Fatalf("claim after the lease ran out got %v, want %v again", got, sorted(due))
		}
		for _, m := range recovered {
			if m.Attempts != 2 {
				t.Errorf("reclaimed %s has %d attempts, want 2", m.ID, m.Attempts)
			}
		}

		// Recording releases the lease; a retry is due at its RetryAt.
		retryAt := after.Add(time.Minute)
		record(t, s, message.Attempt{MessageID: due[0], Provider: "a", Status: message.Queued, RetryAt: retryAt, At: after},
			message.Attempt{MessageID: due[1], Provider: "a", Status: message.Sent, ProviderMessageID: "p1", At: after})
		if got := claim(t, s, retryAt.Add(-time.Second), 10, lease); len(got) != 0 {
			t.Fatalf("claim before the retry time got %v", ids(got))
		}
		if got := ids(claim(t, s, retryAt, 10, lease)); !slices.Equal(got, []string{due[0]}) {
			t.Fatalf("claim at the retry time got %v, want [%s]", got, due[0])
		}
		record(t, s, message.Attempt{MessageID: due[0], Provider: "a", Status: message.Failed, At: retryAt})
		if got := ids(claim(t, s, msgStart.Add(time.Hour), 10, lease)); !slices.Equal(got, []string{later[0]}) {
			t.Fatalf("claim an hour later got %v, want only the later message %s", got, later[0])
		}
	})
}

func TestClaimDueLimitAndOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		var all []*store.Message
		for i := range 5 {
			all = append(all, newMessages(1, []string{"a"}, msgStart.Add(time.Duration(5-i)*time.Second))...)
		}
		insert(t, s, all...)
		now := msgStart.Add(time.Minute)
		due := map[string]time.Time{}
		for _, m := range all {
			due[m.ID] = m.NextAttemptAt
		}
		var order []string
		for range 3 {
			got := claim(t, s, now, 2, time.Minute)
			if len(got) > 2 {
				t.Fatalf("claim with limit 2 got %d messages", len(got))
			}
			slices.SortFunc(got, func(a, b dispatch.Message) int { return due[a.ID].Compare(due[b.ID]) })
			for _, m := range got {
				order = append(order, m.ID)
			}
		}
		want := []string{all[4].ID, all[3].ID, all[2].ID, all[1].ID, all[0].ID}
		if !slices.Equal(order, want) {
			t.Errorf("claimed in order %v, want the earliest due first %v", order, want)
		}
	})
}

// Times in any zone mean the same instant: servers run with TZ set to their
// operators' zone, and callers may hand the store local times.
func TestClaimDueWithLocalClock(t *testing.T) {
	west, east := time.FixedZone("UTC-5", -5*3600), time.FixedZone("UTC+6:30", 6*3600+1800)
	tests := []struct{ stored, clock *time.Location }{
		{time.UTC, west},
		{time.UTC, east},
		{east, time.UTC},
		{west, east},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tt := range tests {
			m := newMessages(1, []string{"a"}, msgStart.In(tt.stored))[0]
			m.ExpiresAt = m.ExpiresAt.In(tt.stored)
			id := insert(t, s, m)[0]
			now := msgStart.Add(time.Second).In(tt.clock)
			if early := claim(t, s, msgStart.Add(-time.Second).In(tt.clock), 10, time.Minute); len(early) != 0 {
				t.Fatalf("stored in %v, clock in %v: message due at %v claimed a second early", tt.stored, tt.clock, msgStart)
			}
			if got := claim(t, s, now, 10, time.Minute); !slices.Equal(ids(got), []string{id}) {
				t.Fatalf("stored in %v, clock in %v: ClaimDue at %v got %v, want the message due at %v", tt.stored, tt.clock, now, ids(got), msgStart)
			}
			// The lease and retry time written in the clock's zone must hold
			// against a clock in the zone the message was stored in.
			if again := claim(t, s, now.Add(30*time.Second).In(tt.stored), 10, time.Minute); len(again) != 0 {
				t.Fatalf("stored in %v, clock in %v: leased message claimed again", tt.stored, tt.clock)
			}
			retryAt := now.Add(time.Hour)
			record(t, s, message.Attempt{MessageID: id, Provider: "a", Status: message.Queued, RetryAt: retryAt, At: now})
			if early := claim(t, s, retryAt.Add(-time.Minute).In(tt.stored), 10, time.Minute); len(early) != 0 {
				t.Fatalf("stored in %v, clock in %v: message retrying at %v claimed a minute early", tt.stored, tt.clock, retryAt)
			}
			if due := claim(t, s, retryAt.In(tt.stored), 10, time.Minute); len(due) != 1 {
				t.Fatalf("stored in %v, clock in %v: message retrying at %v not claimed then", tt.stored, tt.clock, retryAt)
			}
			record(t, s, message.Attempt{MessageID: id, Status: message.Failed, At: retryAt})
		}
	})
}

// SKIP LOCKED concerns PostgreSQL only: SQLite has a single writer.
func TestClaimDueConcurrentPostgres(t *testing.T) {
	s := storetest.Open(t, store.DriverPostgres)
	want := insert(t, s, newMessages(120, []string{"a"}, msgStart)...)
	const workers = 4
	got := make([][]string, workers)
	errs := make([]error, workers)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-begin
			// Bounded: 120 messages in claims of 3 take at most 40 rounds.
			for range 60 {
				msgs, err := s.ClaimDue(context.Background(), msgStart, 3, time.Minute)
				if err != nil {
					errs[w] = err
					return
				}
				if len(msgs) == 0 {
					return
				}
				for _, m := range msgs {
					got[w] = append(got[w], m.ID)
				}
			}
		})
	}
	close(begin)
	wg.Wait()
	seen := map[string]int{}
	var all []string
	for w := range workers {
		if errs[w] != nil {
			t.Fatalf("worker %d: %v", w, errs[w])
		}
		for _, id := range got[w] {
			if prev, dup := seen[id]; dup {
				t.Errorf("message %s claimed by workers %d and %d", id, prev, w)
			}
			seen[id] = w
			all = append(all, id)
		}
	}
	if slices.Sort(all); !slices.Equal(all, sorted(want)) {
		t.Errorf("workers claimed %d distinct messages, want all %d", len(seen), len(want))
	}
}

func TestNextDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, ok, err := s.NextDue(ctx); err != nil || ok {
			t.Fatalf("NextDue on an empty queue = %v, %v; want false", ok, err)
		}
		insert(t, s, newMessages(1, []string{"a"}, msgStart.Add(time.Hour))...)
		first := insert(t, s, newMessages(1, []string{"a"}, msgStart.Add(time.Minute))...)[0]
		if at, ok, err := s.NextDue(ctx); err != nil || !ok || !at.Equal(msgStart.Add(time.Minute)) {
			t.Fatalf("NextDue = %v, %v, %v; want %v", at, ok, err, msgStart.Add(time.Minute))
		}
		// A leased message is due when its lease runs out.
		claim(t, s, msgStart.Add(time.Minute), 1, 10*time.Minute)
		if at, ok, err := s.NextDue(ctx); err != nil || !ok || !at.Equal(msgStart.Add(11*time.Minute)) {
			t.Fatalf("NextDue with a leased message = %v, %v, %v; want the lease's end %v", at, ok, err, msgStart.Add(11*time.Minute))
		}
		record(t, s, message.Attempt{MessageID: first, Provider: "a", Status: message.Sent, ProviderMessageID: "p1", At: msgStart})
		if at, ok, err := s.NextDue(ctx); err != nil || !ok || !at.Equal(msgStart.Add(time.Hour)) {
			t.Fatalf("NextDue after the first was sent = %v, %v, %v; want %v", at, ok, err, msgStart.Add(time.Hour))
		}
	})
}

func TestRecordAttemptsKeepsFinishedMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		tests := []struct {
			name   string
			result message.Attempt
		}{
			{"late acceptance", message.Attempt{Provider: "a", Status: message.Sent, ProviderMessageID: "late-1"}},
			{"late retry", message.Attempt{Provider: "a", Status: message.Pending, RetryAt: msgStart.Add(time.Minute)}},
			{"late failure", message.Attempt{Provider: "a", Status: message.Failed, Code: "X"}},
		}
		for _, tt := range tests {
			id := insert(t, s, newMessages(1, []string{"a"}, msgStart)...)[0]
			claim(t, s, msgStart, 10, time.Minute)
			// Finalised meanwhile, e.g. cancelled by an operator.
			if err := s.DB().Model(&store.Message{}).Where("id = ?", id).
				Updates(map[string]any{"status": "rejected", "error_code": "CANCELLED"}).Error; err != nil {
				t.Fatal(err)
			}
			r := tt.result
			r.MessageID, r.At = id, msgStart
			record(t, s, r)
			m := getMessage(t, s, id)
			if m.Status != "rejected" || m.ErrorCode != "CANCELLED" || m.ProviderMessageID != "" || m.SentAt != nil || m.FailedAt != nil {
				t.Errorf("%s: message became %s (error %q, pid %q, sent %v, failed %v); want it left rejected/CANCELLED",
					tt.name, m.Status, m.ErrorCode, m.ProviderMessageID, m.SentAt, m.FailedAt)
			}
			if h := history(t, s, id); !slices.Equal(h, []string{"queued"}) {
				t.Errorf("%s: history %q, want [queued]", tt.name, h)
			}
		}
	})
}

// learnt is when the stores of TestStoreEventsMoveStatusForward learn of
// every report: the messages' times are it, the providers' times are kept
// beside them.
var learnt = msgStart.Add(time.Hour)

func TestStoreEventsMoveStatusForward(t *testing.T) {
	at := func(m int) time.Time { return msgStart.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name    string
		events  []message.Event // each stored in its own call, in order
		status  string
		check   func(t *testing.T, m store.Message)
		history []string // after queued, sent
	}{
		{
			name:   "sent to delivered",
			events: []message.Event{statusEvent("e1", "p1", message.Delivered, at(2))},
			status: "delivered",
			check: func(t *testing.T, m store.Message) {
				if !sameTime(m.DeliveredAt, learnt) || m.FailedAt != nil || !sameTime(m.SentAt, msgStart) || !sameTime(m.ProviderStatusAt, at(2)) {
					t.Errorf("delivered_at %v failed_at %v sent_at %v provider_status_at %v, want delivered_at %v and the provider's %v",
						m.DeliveredAt, m.FailedAt, m.SentAt, m.ProviderStatusAt, learnt, at(2))
				}
			},
			history: []string{"delivered"},
		},
		{
			name: "a late sent does not move a delivered message back",
			events: []message.Event{
				statusEvent("e1", "p1", message.Delivered, at(2)),
				statusEvent("e2", "p1", message.Sent, at(1)),
			},
			status: "delivered",
			check: func(t *testing.T, m store.Message) {
				if !sameTime(m.DeliveredAt, learnt) || !sameTime(m.SentAt, msgStart) || !sameTime(m.ProviderStatusAt, at(2)) {
					t.Errorf("delivered_at %v sent_at %v provider_status_at %v, want %v, %v and %v", m.DeliveredAt, m.SentAt, m.ProviderStatusAt, learnt, msgStart, at(2))
				}
			},
			history: []string{"delivered", "sent (not applied)"},
		},
		{
			name: "undeliverable keeps the provider's words",
			events: []message.Event{{ID: "e1", Report: &message.Report{ProviderMessageID: "p1", Status: message.Undeliverable,
				ProviderStatus: "UNDELIV", ErrorCode: "011", At: at(3)}}},
			status: "undeliverable",
			check: func(t *testing.T, m store.Message) {
				if !sameTime(m.FailedAt, learnt) || m.DeliveredAt != nil || !sameTime(m.ProviderStatusAt, at(3)) {
					t.Errorf("failed_at %v delivered_at %v provider_status_at %v, want failed_at %v and the provider's %v",
						m.FailedAt, m.DeliveredAt, m.ProviderStatusAt, learnt, at(3))
				}
				if m.ErrorCode != "011" || !strings.Contains(m.ErrorMessage, "UNDELIV") || !strings.Contains(m.ErrorMessage, "undeliverable") {
					t.Errorf("error %q %q, want code 011 and a message naming UNDELIV", m.ErrorCode, m.ErrorMessage)
				}
			},
			history: []string{"undeliverable"},
		},
		{
			name: "unknown is upgraded to delivered",
			events: []message.Event{
				statusEvent("e1", "p1", message.Unknown, at(1)),
				statusEvent("e2", "p1", message.Delivered, at(5)),
			},
			status: "delivered",
			check: func(t *testing.T, m store.Message) {
				if !sameTime(m.DeliveredAt, learnt) || !sameTime(m.ProviderStatusAt, at(5)) {
					t.Errorf("delivered_at %v provider_status_at %v, want %v and %v", m.DeliveredAt, m.ProviderStatusAt, learnt, at(5))
				}
			},
			history: []string{"unknown", "delivered"},
		},
		{
			name: "a final status is not replaced by another",
			events: []message.Event{
				statusEvent("e1", "p1", message.Delivered, at(1)),
				statusEvent("e2", "p1", message.Undeliverable, at(2)),
			},
			status: "delivered",
			check: func(t *testing.T, m store.Message) {
				if m.FailedAt != nil || m.ErrorMessage != "" {
					t.Errorf("failed_at %v error %q set by a report that was not applied", m.FailedAt, m.ErrorMessage)
				}
			},
			history: []string{"delivered", "undeliverable (not applied)"},
		},
		{
			name: "a duplicate event id changes nothing",
			events: []message.Event{
				statusEvent("e1", "p1", message.Unknown, at(1)),
				statusEvent("e1", "p1", message.Delivered, at(2)),
			},
			status: "unknown",
			check: func(t *testing.T, m store.Message) {
				if m.DeliveredAt != nil {
					t.Errorf("delivered_at %v set by a duplicate event", m.DeliveredAt)
				}
			},
			history: []string{"unknown"},
		},
		{
			name: "another provider's report does not touch the message",
			events: []message.Event{
				{ID: "other", Report: &message.Report{ProviderMessageID: "p1", Status: message.Delivered, At: at(1)}},
			},
			status:  "sent",
			history: []string{},
		},
	}
	// One store per driver keeps the run short; each case has providers of
	// its own, so event ids and provider ids do not meet across cases.
	storetest.EachWith(t, store.Options{Now: func() time.Time { return learnt }}, func(t *testing.T, s *store.Store) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
				id := sentMessage(t, s, a, "p1")
				for _, ev := range tt.events {
					provider := a
					if ev.ID == "other" {
						provider = b
					}
					storeEvents(t, s, provider, ev)
				}
				m := getMessage(t, s, id)
				if string(m.Status) != tt.status {
					t.Errorf("status %s, want %s", m.Status, tt.status)
				}
				if tt.check != nil {
					tt.check(t, m)
				}
				want := append([]string{"queued", "sent"}, tt.history...)
				if h := history(t, s, id); !slices.Equal(h, want) {
					t.Errorf("history %q, want %q", h, want)
				}
			})
		}
	})
}

func TestStoreEventsBatchInOneCall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id := sentMessage(t, s, "a", "p1")
		storeEvents(t, s, "a",
			statusEvent("e1", "p1", message.Unknown, msgStart.Add(time.Minute)),
			statusEvent("e1", "p1", message.Failed, msgStart.Add(time.Minute)), // same id: skipped
			statusEvent("e2", "p1", message.Delivered, msgStart.Add(2*time.Minute)))
		if m := getMessage(t, s, id); m.Status != "delivered" {
			t.Errorf("status %s, want delivered", m.Status)
		}
		if h, want := history(t, s, id), []string{"queued", "sent", "unknown", "delivered"}; !slices.Equal(h, want) {
			t.Errorf("history %q, want %q", h, want)
		}
		if err := s.StoreEvents(context.Background(), "a", nil); err != nil {
			t.Errorf("StoreEvents(nil) = %v", err)
		}
	})
}

// A report can beat its own submit answer (an SMPP receipt before the
// submit_sm_resp is recorded): it is held and applied when the answer lands.
func TestHeldReportAppliedWhenAttemptRecorded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id := insert(t, s, newMessages(1, []string{"a"}, msgStart)...)[0]
		claim(t, s, msgStart, 10, time.Minute)
		deliveredAt := msgStart.Add(3 * time.Second)
		storeEvents(t, s, "a", message.Event{ID: "dr-1", Report: &message.Report{ProviderMessageID: "p-early",
			Status: message.Delivered, ProviderStatus: "DELIVRD", At: deliveredAt}})
		// The same provider id at another provider is another message.
		storeEvents(t, s, "b", statusEvent("dr-1", "p-early", message.Undeliverable, deliveredAt))
		if m := getMessage(t, s, id); m.Status != "queued" || m.DeliveredAt != nil {
			t.Fatalf("held report touched the message before it was sent: status %s delivered_at %v", m.Status, m.DeliveredAt)
		}

		record(t, s, message.Attempt{MessageID: id, Provider: "a", Status: message.Sent,
			ProviderMessageID: "p-early", At: msgStart.Add(5 * time.Second)})
		m := getMessage(t, s, id)
		// Learnt before the submit answer, but never delivered before sent.
		if m.Status != "delivered" || m.DeliveredAt == nil || !sameTime(m.SentAt, msgStart.Add(5*time.Second)) ||
			m.DeliveredAt.Before(*m.SentAt) || !sameTime(m.ProviderStatusAt, deliveredAt) {
			t.Errorf("status %s delivered_at %v sent_at %v provider_status_at %v, want delivered, not before sent, provider's time %v",
				m.Status, m.DeliveredAt, m.SentAt, m.ProviderStatusAt, deliveredAt)
		}
		changes, err := storetest.StatusHistory(context.Background(), s, id)
		if err != nil {
			t.Fatal(err)
		}
		if h, want := history(t, s, id), []string{"queued", "sent", "delivered"}; !slices.Equal(h, want) {
			t.Errorf("history %q, want %q", h, want)
		} else if last := changes[2]; last.ProviderStatus != "DELIVRD" || last.Provider != "a" {
			t.Errorf("delivered change %+v, want provider a and DELIVRD", last)
		}

		// The held report was used up: a second message the provider later
		// gives the same id (ids recycle) does not inherit it.
		id2 := insert(t, s, newMessages(1, []string{"a"}, msgStart)...)[0]
		claim(t, s, msgStart, 10, time.Minute)
		record(t, s, message.Attempt{MessageID: id2, Provider: "a", Status: message.Sent, ProviderMessageID: "p-early", At: msgStart})
		if m := getMessage(t, s, id2); m.Status != "sent" {
			t.Errorf("second message with a recycled provider id is %s, want sent", m.Status)
		}
	})
}

func TestStoreInboundEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		at := msgStart.Add(time.Minute)
		storeEvents(t, s, "modem-1",
			message.Event{ID: "mo-1", Inbound: &inbound.Message{ProviderMessageID: "7", Sender: "+959111111111", Recipient: "+959222222222", Text: "STOP", ReceivedAt: at}},
			message.Event{ID: "mo-1", Inbound: &inbound.Message{Sender: "+959111111111", Text: "STOP"}}, // re-emitted
		)
		var got []store.InboundMessage
		if err := s.DB().Find(&got).Error; err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("stored %d inbound messages, want 1: %+v", len(got), got)
		}
		in := got[0]
		if !strings.HasPrefix(in.ID, "in_") || in.Provider != "modem-1" || in.ProviderMessageID != "7" || in.Sender != "+959111111111" ||
			in.Recipient != "+959222222222" || in.Text != "STOP" || !in.ReceivedAt.Equal(at) {
			t.Errorf("inbound message %+v, want the event's fields", in)
		}
	})
}

// A bad event fails the whole call and stores nothing, so the provider's
// retry of the batch (after fixing, or without the bad event) is not lost
// to the dedupe of the good events.
func TestStoreEventsRejectsBadEventsAtomically(t *testing.T) {
	tests := []struct {
		name string
		bad  message.Event
		want string
	}{
		{"neither status nor inbound", message.Event{ID: "e-bad"}, "neither a status nor an inbound message"},
		{"no id", message.Event{Report: &message.Report{ProviderMessageID: "p1", Status: message.Delivered}}, "without id"},
		{"invalid status", statusEvent("e-bad", "p1", "DELIVRD", msgStart), "invalid status"},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := fmt.Sprintf("a%d", i)
				id := sentMessage(t, s, a, "p1")
				good := statusEvent("e-good", "p1", message.Delivered, msgStart.Add(time.Minute))
				mo := message.Event{ID: "mo-1", Inbound: &inbound.Message{Sender: "+959111111111", Text: "hi", ReceivedAt: msgStart}}
				err := s.StoreEvents(context.Background(), a, []message.Event{good, mo, tt.bad})
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("StoreEvents with a bad event: err = %v, want one saying %q", err, tt.want)
				}
				if m := getMessage(t, s, id); m.Status != "sent" || m.DeliveredAt != nil {
					t.Errorf("status %s delivered_at %v after a rejected batch, want sent", m.Status, m.DeliveredAt)
				}
				var n int64
				if err := s.DB().Model(&store.InboundMessage{}).Where("provider = ?", a).Count(&n).Error; err != nil || n != 0 {
					t.Errorf("%d inbound messages (%v) after a rejected batch, want 0", n, err)
				}
				if h, want := history(t, s, id), []string{"queued", "sent"}; !slices.Equal(h, want) {
					t.Errorf("history %q, want %q", h, want)
				}
				storeEvents(t, s, a, good, mo)
				if m := getMessage(t, s, id); m.Status != "delivered" {
					t.Errorf("status %s after the good events were stored again, want delivered", m.Status)
				}
			})
		}
	})
}

func TestCountByStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		insert(t, s, newMessages(3, []string{"a"}, msgStart.Add(time.Hour))...)
		sentMessage(t, s, "a", "p1")
		sentMessage(t, s, "a", "p2")
		storeEvents(t, s, "a", statusEvent("e", "p2", message.Delivered, msgStart))
		got, err := storetest.CountByStatus(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		want := map[message.Status]int64{"queued": 3, "sent": 1, "delivered": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("CountByStatus = %v, want %v", got, want)
		}
	})
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

// A report held by a transaction that ran alongside the one recording its
// message's submit answer is applied by the sweep.
func TestApplyHeldStatusesAfterARace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		id := sentMessage(t, s, "a", "p1")
		// The report arrived for an id the store did not know yet ...
		if err := s.DB().Model(&store.Message{}).Where("id = ?", id).Update("provider_message_id", "other").Error; err != nil {
			t.Fatal(err)
		}
		storeEvents(t, s, "a", statusEvent("e1", "p1", message.Delivered, msgStart))
		// ... and the submit answer's record committed after looking for it.
		if err := s.DB().Model(&store.Message{}).Where("id = ?", id).Update("provider_message_id", "p1").Error; err != nil {
			t.Fatal(err)
		}
		if m := getMessage(t, s, id); m.Status != "sent" {
			t.Fatalf("status %s before the sweep, want sent", m.Status)
		}
		n, err := s.ApplyHeldStatuses(ctx, 100)
		if err != nil || n != 1 {
			t.Fatalf("ApplyHeldStatuses = %d, %v; want 1 applied", n, err)
		}
		if m := getMessage(t, s, id); m.Status != "delivered" {
			t.Errorf("status %s after the sweep, want delivered", m.Status)
		}
		if n, err := s.ApplyHeldStatuses(ctx, 100); err != nil || n != 0 {
			t.Errorf("second sweep = %d, %v; want nothing left", n, err)
		}
	})
}

// A round and its reports larger than one statement (SQLite updates in
// statements of a few hundred parameters, joined by id) give every
// message its own provider id and its own report, whatever statement its
// row fell into.
func TestLargeRoundKeepsEachMessagesOwnValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		const n = 333
		ids := insert(t, s, newMessages(n, []string{"a"}, msgStart)...)
		if got := claim(t, s, msgStart, n, time.Minute); len(got) != n {
			t.Fatalf("claimed %d messages, want %d", len(got), n)
		}
		results := make([]message.Attempt, n)
		events := make([]message.Event, n)
		for i, id := range ids {
			results[i] = message.Attempt{MessageID: id, Provider: "a", Status: message.Sent, ProviderMessageID: "p-" + id, At: msgStart}
			st := message.Delivered
			if i%3 == 0 {
				st = message.Failed
			}
			events[i] = statusEvent("dlr-"+id, "p-"+id, st, msgStart.Add(time.Second))
		}
		record(t, s, results...)
		storeEvents(t, s, "a", events...)
		for i, id := range ids {
			m := getMessage(t, s, id)
			want := message.Delivered
			if i%3 == 0 {
				want = message.Failed
			}
			if m.ProviderMessageID != "p-"+id || m.Status != want {
				t.Fatalf("message %d (%s): provider id %q, status %s; want %q, %s", i, id, m.ProviderMessageID, m.Status, "p-"+id, want)
			}
		}
	})
}
