package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func amount(t *testing.T, s string) money.Amount {
	t.Helper()
	a, err := money.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

// pricedMessage is a message the account pays price for.
func pricedMessage(acc, text string, price money.Amount, now time.Time) *intake.Message {
	m := testMessage(acc, "+959123456789", text, now)
	m.Charged = price
	return m
}

// checkBooks asserts the account's balance is want and equals its ledger.
func checkBooks(t *testing.T, s *store.Store, acc string, want money.Amount) {
	t.Helper()
	a, err := s.AccountByID(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.LedgerSum(context.Background(), acc)
	if err != nil {
		t.Fatal(err)
	}
	if a.Balance != want || sum != a.Balance {
		t.Fatalf("balance %s, ledger sum %s; want both %s", a.Balance, sum, want)
	}
}

// Many concurrent sends through two stores on one database (two servers)
// against a prepaid account: exactly the affordable number is accepted,
// the balance never goes below zero and equals the ledger's sum.
func TestChargesHoldUnderConcurrency(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, a, "prepaid").ID
		if err := a.SetCreditLimit(ctx, acc, ptr(money.Amount(0))); err != nil {
			t.Fatal(err)
		}
		price := amount(t, "0.013")
		const affordable, tries = 37, 120
		if _, err := a.AddCredit(ctx, acc, price*affordable, "test top-up"); err != nil {
			t.Fatal(err)
		}
		ba, bb := store.NewBatcher(a, store.BatcherOptions{}), store.NewBatcher(b, store.BatcherOptions{})
		defer ba.Close()
		defer bb.Close()
		accepters := []interface {
			Accept(context.Context, intake.Acceptance) error
		}{ba, bb, a, b}

		var (
			mu       sync.Mutex
			accepted []string
			short    int
			wg       sync.WaitGroup
		)
		for g := range 8 {
			wg.Go(func() {
				for i := range tries / 8 {
					m := pricedMessage(acc, fmt.Sprint("g", g, " i", i), price, c.now())
					err := accepters[(g+i)%len(accepters)].Accept(ctx, dupAcceptance(acc, m, m.ID, c.now().Add(time.Minute)))
					var ce *account.InsufficientCreditError
					mu.Lock()
					switch {
					case err == nil:
						accepted = append(accepted, m.ID)
					case errors.As(err, &ce):
						short++
						if ce.Needed != price || ce.Balance >= price || ce.Balance < 0 {
							t.Errorf("refusal says needed %s, balance %s", ce.Needed, ce.Balance)
						}
					default:
						t.Error(err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(accepted) != affordable || short != tries-affordable {
			t.Fatalf("accepted %d, refused %d; want %d and %d", len(accepted), short, affordable, tries-affordable)
		}
		checkBooks(t, b, acc, 0)
		got, _, err := a.ListMessages(ctx, acc, store.MessageFilter{Limit: 500})
		if err != nil || len(got) != affordable {
			t.Fatalf("stored %d messages (%v), want %d", len(got), err, affordable)
		}
		for _, m := range got {
			if m.Charged != price {
				t.Errorf("message %s charged %s, want %s", m.ID, m.Charged, price)
			}
		}
		entries, _, err := a.Ledger(ctx, acc, account.LedgerPage{Limit: 500})
		if err != nil || len(entries) != affordable+1 {
			t.Fatalf("ledger has %d entries (%v), want %d charges and the top-up", len(entries), err, affordable)
		}
		// Entries are newest first; each carries the balance it left.
		for i := 0; i+1 < len(entries); i++ {
			if entries[i].BalanceAfter != entries[i+1].BalanceAfter+entries[i].Amount {
				t.Fatalf("entry %d: balance after %s does not follow %s %+d", entries[i].ID, entries[i].BalanceAfter,
					entries[i+1].BalanceAfter, entries[i].Amount)
			}
		}
	})
}

// An account without a credit limit is never refused; its charges are
// recorded and its balance goes below zero.
func TestUnlimitedAccountGoesNegative(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "postpaid").ID
		now := time.Now().UTC()
		refused, err := s.AcceptMany(ctx, []intake.Acceptance{
			{Messages: []*intake.Message{pricedMessage(acc, "a", amount(t, "0.5"), now), pricedMessage(acc, "b", amount(t, "0.25"), now)}},
			{Messages: []*intake.Message{testMessage(acc, "+959123456789", "free", now)}},
		})
		if err != nil || refused[0] != nil || refused[1] != nil {
			t.Fatalf("refused %v, %v", refused, err)
		}
		checkBooks(t, s, acc, amount(t, "-0.75"))
	})
}

// A batch is decided acceptance by acceptance, in order: one the balance
// cannot cover is refused whole (a bulk send is not cut short), the rest
// commit, and a refused one leaves no duplicate claim or idempotency key
// behind, so the same request goes through after a top-up.
func TestRefusedForCreditIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "prepaid").ID
		if err := s.SetCreditLimit(ctx, acc, ptr(amount(t, "0.1"))); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddCredit(ctx, acc, amount(t, "1"), ""); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		p := amount(t, "0.3")
		until := now.Add(time.Minute)
		bulk := intake.Acceptance{Messages: []*intake.Message{pricedMessage(acc, "b1", p, now), pricedMessage(acc, "b2", p, now)},
			Idempotency: &intake.Idempotency{AccountID: acc, Key: "bulk-1", RequestHash: "h", Code: 202, Body: "{}", ExpiresAt: until}}
		single := pricedMessage(acc, "s", p, now)
		last := pricedMessage(acc, "t", amount(t, "0.1"), now)
		batch := []intake.Acceptance{
			{Messages: []*intake.Message{pricedMessage(acc, "first", amount(t, "0.6"), now)}}, // 1 → 0.4
			bulk, // 0.6 > 0.4 + 0.1 limit: refused whole
			dupAcceptance(acc, single, "fp-single", until), // 0.4 → 0.1
			{Messages: []*intake.Message{last}},            // 0.1 → 0
		}
		refused, err := s.AcceptMany(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		var ce *account.InsufficientCreditError
		if refused[0] != nil || !errors.As(refused[1], &ce) || refused[2] != nil || refused[3] != nil {
			t.Fatalf("refused = %v", refused)
		}
		if ce.Needed != amount(t, "0.6") || ce.Balance != amount(t, "0.4") || ce.CreditLimit != amount(t, "0.1") || ce.Messages != 2 {
			t.Fatalf("refusal = %+v", ce)
		}
		for _, m := range bulk.Messages {
			if _, err := s.GetMessage(ctx, acc, m.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("message of the refused bulk stored: %v", err)
			}
		}
		checkBooks(t, s, acc, 0)
		if _, err := s.IdempotencyRecordFor(ctx, acc, "bulk-1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("idempotency key of a refused acceptance kept: %v", err)
		}

		// Over the limit now: a refused send keeps no claim either.
		again := pricedMessage(acc, "again", p, now)
		if err := s.Accept(ctx, dupAcceptance(acc, again, "fp-again", until)); !errors.As(err, &ce) {
			t.Fatalf("accept over the limit: %v", err)
		}
		if _, err := s.AddCredit(ctx, acc, amount(t, "2"), "top-up"); err != nil {
			t.Fatal(err)
		}
		if err := s.Accept(ctx, dupAcceptance(acc, again, "fp-again", until)); err != nil {
			t.Fatalf("the same send after a top-up: %v", err)
		}
		if err := s.Accept(ctx, bulk); err != nil {
			t.Fatalf("the same bulk after a top-up: %v", err)
		}
		checkBooks(t, s, acc, amount(t, "1.1"))
	})
}

// A message that fails, is rejected or expires before any provider
// accepted it is refunded, exactly once; one a provider accepted is not.
func TestRefundOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme").ID
		if _, err := s.AddCredit(ctx, acc, amount(t, "10"), ""); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		p := amount(t, "0.02")
		failed, expired, sent := pricedMessage(acc, "f", p, now), pricedMessage(acc, "e", p, now), pricedMessage(acc, "s", p, now)
		if err := s.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{failed, expired, sent}}); err != nil {
			t.Fatal(err)
		}
		checkBooks(t, s, acc, amount(t, "9.94"))
		results := []message.Attempt{
			{MessageID: failed.ID, Provider: "sandbox", Status: message.Rejected, Code: "bad_number", Reason: "no such number", At: now},
			{MessageID: expired.ID, Status: message.Expired, At: now},
			{MessageID: sent.ID, Provider: "sandbox", Status: message.Sent, ProviderMessageID: "p-1", At: now},
		}
		for range 2 { // the second time finds them final and changes nothing
			if err := s.RecordAttempts(ctx, results); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.StoreEvents(ctx, "sandbox", []message.Event{{ID: "ev-1", Report: &message.Report{ProviderMessageID: "p-1",
			Status: message.Undeliverable, At: now}}}); err != nil {
			t.Fatal(err)
		}
		// Whatever path calls it again, a refund happens once.
		if err := s.RefundMessages(ctx, []string{failed.ID, expired.ID, sent.ID}, "again"); err != nil {
			t.Fatal(err)
		}
		checkBooks(t, s, acc, amount(t, "9.98"))
		entries, _, err := s.Ledger(ctx, acc, account.LedgerPage{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		refunds := map[string]int{}
		for _, e := range entries {
			if e.Kind == store.EntryRefund {
				refunds[e.MessageID]++
				if e.Amount != p || e.Reason != store.RefundUnsent {
					t.Errorf("refund entry %+v", e)
				}
			}
		}
		if len(refunds) != 2 || refunds[failed.ID] != 1 || refunds[expired.ID] != 1 {
			t.Fatalf("refunds by message: %v", refunds)
		}
		m, err := s.GetMessage(ctx, acc, failed.ID)
		if err != nil || m.RefundedAt == nil || m.Charged != p {
			t.Fatalf("refunded message: %+v, %v", m, err)
		}
	})
}

// balance.low fires when a charge takes the balance from at or above the
// threshold to below it, once per crossing: again only after the balance
// went back up.
func TestBalanceLowOncePerCrossing(t *testing.T) {
	storetest.EachWith(t, store.Options{Billing: store.Billing{LowBalance: ptr(money.Amount(500_000)), Currency: "USD"}},
		func(t *testing.T, s *store.Store) {
			ctx := ctxT(t)
			acc := mustAccount(t, s, "acme").ID
			if _, _, err := s.SetWebhook(ctx, acc, "http://127.0.0.1:9/hooks", false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AddCredit(ctx, acc, amount(t, "1"), ""); err != nil {
				t.Fatal(err)
			}
			lows := func() int64 {
				var n int64
				if err := s.DB().Model(&store.WebhookDelivery{}).Where("account_id = ? AND type = ?", acc, string(outbox.EventBalanceLow)).
					Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			charge := func(price string) {
				t.Helper()
				if err := s.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{pricedMessage(acc, price, amount(t, price), time.Now())}}); err != nil {
					t.Fatal(err)
				}
			}
			steps := []struct {
				do   func()
				want int64
			}{
				{func() { charge("0.25") }, 0},                                      // 0.75
				{func() { charge("0.25") }, 0},                                      // 0.5: at the threshold is not below it
				{func() { charge("0.25") }, 1},                                      // 0.25: crossed
				{func() { charge("0.25") }, 1},                                      // 0: still below
				{func() { _, _ = s.AddCredit(ctx, acc, amount(t, "0.4"), "") }, 1},  // 0.4: up, but still below
				{func() { charge("0.1") }, 1},                                       // 0.3
				{func() { _, _ = s.AddCredit(ctx, acc, amount(t, "1"), "") }, 1},    // 1.3: back above
				{func() { _, _ = s.AddCredit(ctx, acc, amount(t, "-0.9"), "") }, 2}, // 0.4: an adjustment crosses too
				{func() { charge("0.1") }, 2},
			}
			for i, st := range steps {
				st.do()
				if got := lows(); got != st.want {
					t.Fatalf("after step %d: %d balance.low events, want %d", i, got, st.want)
				}
			}
			checkBooks(t, s, acc, amount(t, "0.3"))
		})
}

// A new account opens with the configured credit and credit limit.
func TestOpeningCredit(t *testing.T) {
	storetest.EachWith(t, store.Options{Billing: store.Billing{OpeningCredit: 7_500_000, CreditLimit: ptr(money.Amount(0))}},
		func(t *testing.T, s *store.Store) {
			acc := mustAccount(t, s, "acme")
			if acc.Balance != 7_500_000 || acc.CreditLimit == nil || *acc.CreditLimit != 0 {
				t.Fatalf("new account %+v", acc)
			}
			checkBooks(t, s, acc.ID, 7_500_000)
		})
}

// A database from before the ledger keeps each account's credit as an
// opening entry, and loses the old column.
func TestCarryOverCredit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		with, without := mustAccount(t, s, "with"), mustAccount(t, s, "without")
		if err := s.DB().Exec("ALTER TABLE accounts ADD COLUMN credit " + map[string]string{
			store.DriverSQLite: "real", store.DriverPostgres: "double precision"}[s.Driver()]).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB().Exec("UPDATE accounts SET credit = 12.34 WHERE id = ?", with.ID).Error; err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second migration finds nothing to carry over
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		checkBooks(t, s, with.ID, amount(t, "12.34"))
		checkBooks(t, s, without.ID, 0)
		if s.DB().Migrator().HasColumn("accounts", "credit") {
			t.Fatal("the credit column is still there")
		}
	})
}

func TestLedgerPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme").ID
		other := mustAccount(t, s, "other").ID
		for i := 1; i <= 5; i++ {
			if _, err := s.AddCredit(ctx, acc, money.Amount(i), fmt.Sprint("top-up ", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.AddCredit(ctx, other, 1, ""); err != nil {
			t.Fatal(err)
		}
		var got []string
		cursor := ""
		for {
			page, next, err := s.Ledger(ctx, acc, account.LedgerPage{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				got = append(got, e.Reason)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if fmt.Sprint(got) != "[top-up 5 top-up 4 top-up 3 top-up 2 top-up 1]" {
			t.Fatalf("pages = %v", got)
		}
		if _, _, err := s.Ledger(ctx, acc, account.LedgerPage{Limit: 2, Cursor: "x"}); !errors.Is(err, account.ErrBadCursor) {
			t.Fatalf("bad cursor: %v", err)
		}
		if _, err := s.AddCredit(ctx, "acc_missing", 1, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("credit to a missing account: %v", err)
		}
	})
}

// BenchmarkBatcherAcceptCharged is BenchmarkBatcherAccept with every
// message charged, to one postpaid and to one prepaid account: what the
// ledger adds to the accept path.
func BenchmarkBatcherAcceptCharged(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		for _, prepaid := range []bool{false, true} {
			for _, o := range []store.BatcherOptions{{}, {Workers: 1}, {Workers: 4}} {
				name := fmt.Sprintf("%s/prepaid=%v/workers=%d", driver, prepaid, o.Workers)
				if o.Workers == 0 {
					name = fmt.Sprintf("%s/prepaid=%v/direct", driver, prepaid)
				}
				b.Run(name, func(b *testing.B) {
					s := storetest.Open(b, driver)
					ctx := context.Background()
					acc, err := s.CreateAccount(ctx, "bench")
					if err != nil {
						b.Fatal(err)
					}
					if prepaid {
						if err := s.SetCreditLimit(ctx, acc.ID, ptr(money.Amount(0))); err != nil {
							b.Fatal(err)
						}
						if _, err := s.AddCredit(ctx, acc.ID, 1_000_000*money.Unit, ""); err != nil {
							b.Fatal(err)
						}
					}
					accepter := benchAccepter(b, s, o)
					until := time.Now().Add(time.Hour)
					b.SetParallelism(32)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							m := pricedMessage(acc.ID, "t", 13_000, time.Now().UTC())
							if err := accepter.Accept(ctx, dupAcceptance(acc.ID, m, m.ID, until)); err != nil {
								b.Error(err)
								return
							}
						}
					})
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
				})
			}
		}
	}
}

// A credit limit set by another server holds at once, although this one
// charged the account as unlimited before.
func TestCreditLimitSetElsewhereHolds(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, a, "acme").ID
		p := amount(t, "0.5")
		if err := a.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{pricedMessage(acc, "1", p, c.now())}}); err != nil {
			t.Fatal(err)
		}
		if err := b.SetCreditLimit(ctx, acc, ptr(amount(t, "0.75"))); err != nil {
			t.Fatal(err)
		}
		// -0.5 → -1 would pass a limit of 0.75 no more.
		var ce *account.InsufficientCreditError
		if err := a.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{pricedMessage(acc, "2", p, c.now())}}); !errors.As(err, &ce) {
			t.Fatalf("accept beyond a limit set elsewhere: %v", err)
		}
		if ce.Balance != amount(t, "-0.5") || ce.CreditLimit != amount(t, "0.75") {
			t.Fatalf("refusal %+v", ce)
		}
		if err := b.SetCreditLimit(ctx, acc, nil); err != nil {
			t.Fatal(err)
		}
		if err := a.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{pricedMessage(acc, "3", p, c.now())}}); err != nil {
			t.Fatalf("accept after the limit was removed elsewhere: %v", err)
		}
		checkBooks(t, a, acc, amount(t, "-1"))
	})
}
