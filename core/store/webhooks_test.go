package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func setWebhook(t *testing.T, s *store.Store, accountID, url string) string {
	t.Helper()
	_, secret, err := s.SetWebhook(context.Background(), accountID, url, false)
	if err != nil {
		t.Fatalf("SetWebhook: %v", err)
	}
	return secret
}

// outbox returns every stored webhook delivery, in sending order.
func outboxRows(t *testing.T, s *store.Store) []store.WebhookDelivery {
	t.Helper()
	var out []store.WebhookDelivery
	if err := s.DB().Order("seq").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// outboxTypes lists "message id type status" per stored delivery.
func outboxTypes(t *testing.T, s *store.Store) []string {
	t.Helper()
	var out []string
	for _, d := range outboxRows(t, s) {
		var ev struct {
			Type string `json:"type"`
			Data struct {
				MessageID string `json:"message_id"`
				Status    string `json:"status"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
			t.Fatalf("payload %q: %v", d.Payload, err)
		}
		if ev.Type != d.Type || ev.Data.MessageID != d.MessageID {
			t.Errorf("payload %s does not match its row (type %s, message %s)", d.Payload, d.Type, d.MessageID)
		}
		out = append(out, d.MessageID+" "+d.Type+" "+ev.Data.Status)
	}
	return out
}

func TestWebhookConfiguration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.GetWebhook(ctx, msgAccount); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetWebhook before any = %v, want ErrNotFound", err)
		}
		w, secret, err := s.SetWebhook(ctx, msgAccount, "https://app.example/hooks", false)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+64 || w.Secret != secret || w.URL != "https://app.example/hooks" {
			t.Fatalf("first SetWebhook = %+v, secret %q; want the URL and a fresh secret", w, secret)
		}
		w2, again, err := s.SetWebhook(ctx, msgAccount, "https://app.example/v2", false)
		if err != nil {
			t.Fatal(err)
		}
		if again != "" || w2.Secret != secret || w2.URL != "https://app.example/v2" {
			t.Errorf("changing the URL gave secret %q and %+v; want the old secret kept and not shown", again, w2)
		}
		w3, rotated, err := s.SetWebhook(ctx, msgAccount, "https://app.example/v2", true)
		if err != nil {
			t.Fatal(err)
		}
		if rotated == "" || rotated == secret || w3.Secret != rotated {
			t.Errorf("rotation gave %q (old %q)", rotated, secret)
		}
		if err := s.DeleteWebhook(ctx, msgAccount); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteWebhook(ctx, msgAccount); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second DeleteWebhook = %v, want ErrNotFound", err)
		}
	})
}

// Every status change that applications hear about is written to the
// outbox by the transaction that makes it, in the order the changes
// happened, and only for accounts with somewhere to send it.
func TestWebhooksEnqueuedWithStatusChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		setWebhook(t, s, msgAccount, "https://app.example/hooks")

		msgs := newMessages(4, []string{"a"}, msgStart)
		quiet := newMessages(1, []string{"a"}, msgStart)
		quiet[0].AccountID = "acc_without_webhook"
		ids := insert(t, s, append(msgs, quiet...)...)
		claim(t, s, msgStart, 10, time.Minute)
		at := msgStart.Add(time.Second)
		// A report held before its submit answer: message.sent must still
		// come before message.delivered.
		storeEvents(t, s, "a", message.Event{ID: "early", Report: &message.Report{ProviderMessageID: "p2",
			Status: message.Delivered, ProviderStatus: "DELIVRD", At: at}})
		record(t, s,
			message.Attempt{MessageID: ids[0], Provider: "a", Status: message.Sent, ProviderMessageID: "p0", At: at},
			message.Attempt{MessageID: ids[1], Provider: "a", Status: message.Rejected, Code: "BAD_NUMBER", Reason: "no such number", At: at},
			message.Attempt{MessageID: ids[2], Provider: "a", Status: message.Sent, ProviderMessageID: "p2", At: at},
			message.Attempt{MessageID: ids[3], Provider: "a", Status: message.Pending, RetryAt: at.Add(time.Minute), At: at},
			message.Attempt{MessageID: ids[4], Provider: "a", Status: message.Sent, ProviderMessageID: "p4", At: at},
		)
		storeEvents(t, s, "a",
			statusEvent("d0", "p0", message.Delivered, at.Add(time.Second)),
			statusEvent("d0-again", "p0", message.Undeliverable, at.Add(2*time.Second)), // too late: no event
			statusEvent("d4", "p4", message.Delivered, at.Add(time.Second)),
		)

		want := []string{
			ids[0] + " message.sent sent",
			ids[1] + " message.failed rejected",
			ids[2] + " message.sent sent",
			ids[2] + " message.delivered delivered",
			ids[0] + " message.delivered delivered",
		}
		if got := outboxTypes(t, s); !slices.Equal(got, want) {
			t.Errorf("outbox\n%q\nwant\n%q", got, want)
		}
		var rejected struct {
			Data store.MessageEventData `json:"data"`
		}
		for _, d := range outboxRows(t, s) {
			if d.MessageID == ids[1] {
				if err := json.Unmarshal([]byte(d.Payload), &rejected); err != nil {
					t.Fatal(err)
				}
			}
			if d.State != store.WebhookPending || d.AccountID != msgAccount || !strings.HasPrefix(d.EventID, "evt_") {
				t.Errorf("delivery %+v, want a pending event of %s", d, msgAccount)
			}
		}
		if r := rejected.Data; r.ErrorCode != "BAD_NUMBER" || r.Reason != "no such number" || r.To != "+959123456789" ||
			r.FailedAt == nil || !r.FailedAt.Equal(at) {
			t.Errorf("message.failed data %+v, want the code, reason, recipient and time", r)
		}
	})
}

func TestWebhookForCallbackURLAndAccountEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		// A secret but no account URL: only messages with a callback_url
		// produce webhooks.
		setWebhook(t, s, msgAccount, "")
		msgs := newMessages(2, []string{"a"}, msgStart)
		msgs[0].CallbackURL = "https://app.example/per-message"
		ids := insert(t, s, msgs...)
		claim(t, s, msgStart, 10, time.Minute)
		record(t, s,
			message.Attempt{MessageID: ids[0], Provider: "a", Status: message.Sent, ProviderMessageID: "p0", At: msgStart},
			message.Attempt{MessageID: ids[1], Provider: "a", Status: message.Sent, ProviderMessageID: "p1", At: msgStart},
		)
		storeEvents(t, s, "a", statusEvent("u", "p0", message.Unknown, msgStart.Add(time.Hour)))
		if got, want := outboxTypes(t, s), []string{ids[0] + " message.sent sent", ids[0] + " message.failed unknown"}; !slices.Equal(got, want) {
			t.Errorf("outbox %q, want %q", got, want)
		}
		for _, d := range outboxRows(t, s) {
			if d.CallbackURL != "https://app.example/per-message" {
				t.Errorf("delivery %s goes to %q, want the message's callback_url", d.EventID, d.CallbackURL)
			}
		}

		// Account events: nothing without an account URL, a row with one,
		// and nothing when the caller's transaction rolls back.
		enqueue := func(account string, fail bool) {
			err := s.DB().Transaction(func(tx *gorm.DB) error {
				if err := store.EnqueueWebhook(tx, account, "", "balance.low", map[string]any{"balance": 1.5}, msgStart); err != nil {
					return err
				}
				if fail {
					return errors.New("the charge failed")
				}
				return nil
			})
			if err != nil && !fail {
				t.Fatal(err)
			}
		}
		enqueue(msgAccount, false)
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		enqueue(msgAccount, true)
		enqueue("acc_nobody", false)
		enqueue(msgAccount, false)
		all := outboxRows(t, s)
		if len(all) != 3 || all[2].Type != "balance.low" || all[2].MessageID != "" || !strings.Contains(all[2].Payload, `"balance":1.5`) {
			t.Errorf("outbox after account events: %+v, want one balance.low", all[2:])
		}
	})
}

func TestInboundMessageWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first, err := s.CreateAccount(ctx, "first")
		if err != nil {
			t.Fatal(err)
		}
		shop, err := s.CreateAccount(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		setWebhook(t, s, first.ID, "https://first.example/hooks")
		setWebhook(t, s, shop.ID, "https://shop.example/hooks")
		s.SetInboundOwners(map[string]string{"+1 555 0100": "shop", "+15550199": "gone"})
		at := msgStart.Add(time.Minute)
		storeEvents(t, s, "modem",
			message.Event{ID: "mo-1", Inbound: &inbound.Message{Sender: "+959111", Recipient: "15550100", Text: "STOP", ReceivedAt: at}},
			message.Event{ID: "mo-2", Inbound: &inbound.Message{Sender: "+959111", Recipient: "+15550101", Text: "hi", ReceivedAt: at}},
			message.Event{ID: "mo-3", Inbound: &inbound.Message{Sender: "+959111", Recipient: "+15550199", Text: "hey", ReceivedAt: at}},
		)
		var got []string
		for _, d := range outboxRows(t, s) {
			var ev struct {
				Data store.InboundEventData `json:"data"`
			}
			if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
				t.Fatal(err)
			}
			if d.Type != string(outbox.EventMessageReceived) || !strings.HasPrefix(ev.Data.MessageID, "in_") || !ev.Data.ReceivedAt.Equal(at) {
				t.Errorf("inbound delivery %s: %s", d.Type, d.Payload)
			}
			got = append(got, d.AccountID+" "+ev.Data.Text)
		}
		want := []string{shop.ID + " STOP", first.ID + " hi", first.ID + " hey"}
		if !slices.Equal(got, want) {
			t.Errorf("inbound webhooks %q, want %q", got, want)
		}
	})
}

func claimWebhooks(t *testing.T, s *store.Store, now time.Time, limit int, skip ...string) []outbox.Delivery {
	t.Helper()
	got, err := s.ClaimWebhooks(context.Background(), now, limit, time.Minute, skip)
	if err != nil {
		t.Fatalf("ClaimWebhooks: %v", err)
	}
	return got
}

func enqueueAccountEvents(t *testing.T, s *store.Store, account string, n int) {
	t.Helper()
	err := s.DB().Transaction(func(tx *gorm.DB) error {
		for range n {
			if err := store.EnqueueWebhook(tx, account, "", "balance.low", map[string]any{}, msgStart); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A message's events are claimed one at a time, oldest first; the lease
// keeps a claimed event from a second deliverer until it runs out.
func TestClaimWebhooksOrderAndLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		secret := setWebhook(t, s, msgAccount, "https://app.example/hooks")
		id := sentMessage(t, s, "a", "p0")
		storeEvents(t, s, "a", statusEvent("d0", "p0", message.Delivered, msgStart))
		now := time.Now()

		got := claimWebhooks(t, s, now, 10)
		if len(got) != 1 || got[0].Type != outbox.EventMessageSent || got[0].MessageID != id ||
			got[0].URL != "https://app.example/hooks" || got[0].Secret != secret || got[0].Attempts != 1 {
			t.Fatalf("first claim %+v, want message.sent alone with URL and secret", got)
		}
		if again := claimWebhooks(t, s, now, 10); len(again) != 0 {
			t.Fatalf("claimed %d more while message.sent is in flight, want 0", len(again))
		}
		// The lease runs out: the same event again, never its successor.
		later := now.Add(2 * time.Minute)
		retry := claimWebhooks(t, s, later, 10)
		if len(retry) != 1 || retry[0].Seq != got[0].Seq || retry[0].Attempts != 2 {
			t.Fatalf("claim after the lease ran out: %+v, want message.sent again (attempt 2)", retry)
		}
		// The stale claim's result does not overwrite the newer one's.
		err := s.RecordWebhookResults(ctx, []outbox.Result{
			{Seq: got[0].Seq, Attempts: 1, At: later, HTTPStatus: 200, State: outbox.Delivered},
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := outboxRows(t, s)[0]; d.State != store.WebhookPending {
			t.Fatalf("a stale result moved the delivery to %s", d.State)
		}
		err = s.RecordWebhookResults(ctx, []outbox.Result{
			{Seq: retry[0].Seq, Attempts: 2, At: later, Duration: 30 * time.Millisecond, HTTPStatus: 503, Error: "HTTP 503",
				State: outbox.Pending, RetryAt: later.Add(time.Minute)},
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(claimWebhooks(t, s, later.Add(30*time.Second), 10)); n != 0 {
			t.Fatalf("claimed %d before the retry was due", n)
		}
		third := claimWebhooks(t, s, later.Add(time.Minute), 10)
		if len(third) != 1 || third[0].Seq != got[0].Seq {
			t.Fatalf("claim when the retry is due: %+v", third)
		}
		if err := s.RecordWebhookResults(ctx, []outbox.Result{{Seq: third[0].Seq, Attempts: third[0].Attempts,
			At: later.Add(time.Minute), HTTPStatus: 204, State: outbox.Delivered}}); err != nil {
			t.Fatal(err)
		}
		next := claimWebhooks(t, s, later.Add(time.Minute), 10)
		if len(next) != 1 || next[0].Type != outbox.EventMessageDelivered {
			t.Fatalf("after message.sent was delivered: %+v, want message.delivered", next)
		}
		if err := s.ReleaseWebhooks(ctx, []uint64{next[0].Seq}); err != nil {
			t.Fatal(err)
		}
		if back := claimWebhooks(t, s, later.Add(time.Minute), 10); len(back) != 1 || back[0].Attempts != 1 {
			t.Fatalf("released delivery claimed again as %+v, want attempt 1", back)
		}

		hooks, err := s.MessageWebhooks(ctx, msgAccount, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) != 2 || hooks[0].State != outbox.Delivered || len(hooks[0].AttemptLog) != 3 ||
			hooks[0].AttemptLog[1].HTTPStatus != 503 || hooks[0].AttemptLog[1].DurationMS != 30 || hooks[0].AttemptLog[1].Error != "HTTP 503" {
			t.Errorf("MessageWebhooks = %+v, want message.sent delivered after three recorded attempts", hooks)
		} else if last := hooks[0].AttemptLog[2]; last.HTTPStatus != 204 || last.Error != "" || !last.At.Equal(*hooks[0].DeliveredAt) {
			t.Errorf("last attempt %+v, want the delivering one (204 at the delivery time)", last)
		}
		// The delivering attempt lives in the delivery, not in a row of its
		// own; the stale success and the 503 have rows.
		var rows int64
		if err := s.DB().Model(&store.WebhookAttempt{}).Count(&rows).Error; err != nil || rows != 2 {
			t.Errorf("%d attempt rows (%v), want 2", rows, err)
		}
		if other, err := s.MessageWebhooks(ctx, "acc_other", id); err != nil || len(other) != 0 {
			t.Errorf("another account sees %d deliveries (%v), want none", len(other), err)
		}
	})
}

func TestClaimWebhooksSkipsBusyAccountsAndLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		setWebhook(t, s, "acc_a", "https://a.example/")
		setWebhook(t, s, "acc_b", "https://b.example/")
		enqueueAccountEvents(t, s, "acc_a", 3)
		enqueueAccountEvents(t, s, "acc_b", 2)
		now := time.Now()
		got := claimWebhooks(t, s, now, 10, "acc_a")
		if len(got) != 2 || got[0].AccountID != "acc_b" || got[0].URL != "https://b.example/" {
			t.Fatalf("claim skipping acc_a: %+v", got)
		}
		// Account events carry no order among themselves.
		if got := claimWebhooks(t, s, now, 2); len(got) != 2 || got[0].AccountID != "acc_a" {
			t.Fatalf("claim of 2: %+v", got)
		}
	})
}

// Two servers claiming at once never take the same delivery.
func TestClaimWebhooksTwoStores(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		setWebhook(t, a, "acc_a", "https://a.example/")
		const n = 200
		enqueueAccountEvents(t, a, "acc_a", n)
		now := time.Now()
		seen := claimAll(t, []*store.Store{a, b, a, b}, func(s *store.Store) ([]uint64, error) {
			got, err := s.ClaimWebhooks(context.Background(), now, 7, time.Minute, nil)
			seqs := make([]uint64, len(got))
			for i, d := range got {
				seqs[i] = d.Seq
			}
			return seqs, err
		})
		if len(seen) != n {
			t.Errorf("claimed %d distinct deliveries, want %d", len(seen), n)
		}
		for seq, k := range seen {
			if k != 1 {
				t.Errorf("delivery %d claimed %d times", seq, k)
			}
		}
	})
}

// BenchmarkStatusChangesWithWebhooks measures what the outbox adds to the
// hot paths: batches of 500 messages recorded sent, then delivered by
// provider reports, for an account without a webhook and for one with.
// ns/op is per message (both transitions).
func BenchmarkStatusChangesWithWebhooks(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		for _, hooked := range []bool{false, true} {
			name := driver + "/no-webhook"
			if hooked {
				name = driver + "/webhook"
			}
			b.Run(name, func(b *testing.B) {
				s := storetest.Open(b, driver)
				ctx := context.Background()
				if hooked {
					if _, _, err := s.SetWebhook(ctx, msgAccount, "https://app.example/hooks", false); err != nil {
						b.Fatal(err)
					}
				}
				const batch = 500
				b.ResetTimer()
				for done := 0; done < b.N; done += batch {
					b.StopTimer()
					msgs := newMessages(batch, []string{"a"}, msgStart)
					if err := storetest.InsertMessages(ctx, s, msgs); err != nil {
						b.Fatal(err)
					}
					if _, err := s.ClaimDue(ctx, msgStart, batch, time.Minute); err != nil {
						b.Fatal(err)
					}
					results := make([]message.Attempt, batch)
					events := make([]message.Event, batch)
					for i, m := range msgs {
						results[i] = message.Attempt{MessageID: m.ID, Provider: "a", Status: message.Sent, ProviderMessageID: m.ID, At: msgStart}
						events[i] = statusEvent("dlr-"+m.ID, m.ID, message.Delivered, msgStart)
					}
					b.StartTimer()
					if err := s.RecordAttempts(ctx, results); err != nil {
						b.Fatal(err)
					}
					if err := s.StoreEvents(ctx, "a", events); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// Recording a finished delivery that asks for its message's next event
// hands it over, leased in the same transaction; an attempt to be
// retried, a next event not yet due, or a result that does not ask hands
// over nothing.
func TestRecordWebhookResultsClaimNext(t *testing.T) {
	cases := []struct {
		name     string
		state    outbox.State
		claimAt  time.Duration // after now
		dontAsk  bool
		wantNext bool
	}{
		{name: "delivered", state: outbox.Delivered, wantNext: true},
		{name: "given up", state: outbox.GaveUp, wantNext: true},
		{name: "to be retried", state: outbox.Pending},
		{name: "next not due yet", state: outbox.Delivered, claimAt: -time.Hour},
		{name: "delivered, not asking", state: outbox.Delivered, dontAsk: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				secret := setWebhook(t, s, msgAccount, "https://app.example/hooks")
				sentMessage(t, s, "a", "p0")
				storeEvents(t, s, "a", statusEvent("d0", "p0", message.Delivered, msgStart))
				now := time.Now()
				first := claimWebhooks(t, s, now, 10)
				if len(first) != 1 {
					t.Fatalf("claimed %d, want message.sent alone", len(first))
				}
				r := outbox.Result{Seq: first[0].Seq, MessageID: first[0].MessageID, Attempts: 1, At: now,
					HTTPStatus: 200, State: tc.state, ClaimNext: !tc.dontAsk}
				if tc.state == outbox.Pending {
					r.HTTPStatus, r.Error, r.RetryAt = 500, "HTTP 500", now.Add(time.Minute)
				}
				rec, err := s.RecordWebhookResultsClaimNext(ctx, []outbox.Result{r}, now.Add(tc.claimAt), time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if len(rec.Overtaken) != 0 {
					t.Fatalf("overtaken %v, want none", rec.Overtaken)
				}
				next := rec.Next
				if !tc.wantNext {
					if len(next) != 0 {
						t.Fatalf("handed over %+v, want nothing", next)
					}
					return
				}
				if len(next) != 1 || next[0].Type != outbox.EventMessageDelivered || next[0].Attempts != 1 ||
					next[0].URL != "https://app.example/hooks" || next[0].Secret != secret {
					t.Fatalf("handed over %+v, want message.delivered (attempt 1) with URL and secret", next)
				}
				// Leased: no claim takes it while the lease lasts.
				if again := claimWebhooks(t, s, now, 10); len(again) != 0 {
					t.Fatalf("a claim took %+v while the handed-over event was leased", again)
				}
			})
		})
	}
}
