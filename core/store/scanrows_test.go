package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// scanRowsFixture stores messages whose nullable columns are set on some
// and NULL on others, and a webhook for their account; it returns the
// account.
func scanRowsFixture(t testing.TB, s *store.Store) string {
	t.Helper()
	ctx := context.Background()
	acc, err := s.CreateAccount(ctx, "scan")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetWebhook(ctx, acc.ID, "http://127.0.0.1:9/hooks", false); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 11, 0, 0, 123456000, time.UTC)
	var msgs []*store.Message
	for i := range 6 {
		msgs = append(msgs, testRow(acc.ID, fmt.Sprintf("+4915123%06d", i), fmt.Sprintf("text %d", i), now.Add(time.Duration(i)*time.Second)))
	}
	msgs[1].CallbackURL = "https://app.example/cb"
	if err := storetest.InsertMessages(ctx, s, msgs); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs[2:] {
		at := now.Add(time.Duration(i) * time.Minute)
		err := s.DB().WithContext(ctx).Exec(`UPDATE messages SET status = ?, provider = 'smpp-1', provider_message_id = ?, sent_at = ?,
error_code = ?, lease_until = ?, charged_micros = ? WHERE id = ?`,
			message.Sent, fmt.Sprintf("p%d", i), at, fmt.Sprint(i), at.Add(time.Minute), 1000*i, m.ID).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DB().WithContext(ctx).Exec(`UPDATE messages SET delivered_at = ?, status = ? WHERE id = ?`, now, message.Delivered, msgs[3].ID).Error; err != nil {
		t.Fatal(err)
	}
	return acc.ID
}

// TestScanStructsMatchesGorm reads messages, whole and as webhook targets
// (a join with the account's webhook), both by scanStructs and by gorm's
// Scan: the structs must be equal, NULL columns included.
func TestScanStructsMatchesGorm(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acc := scanRowsFixture(t, s)
		t.Run("messages", func(t *testing.T) {
			q := `SELECT * FROM messages WHERE account_id = ? ORDER BY id`
			compareScans[store.Message](t, s, 6, q, acc)
		})
		t.Run("webhook targets", func(t *testing.T) {
			q := `SELECT ` + store.WebhookTargetColumns + `, COALESCE(webhooks.url, '') AS webhook_url, webhooks.secret AS webhook_secret
FROM messages LEFT JOIN webhooks ON webhooks.account_id = messages.account_id WHERE messages.account_id = ? ORDER BY messages.id`
			compareScans[store.WebhookTarget](t, s, 6, q, acc)
		})
		t.Run("no rows", func(t *testing.T) {
			compareScans[store.Message](t, s, 0, `SELECT * FROM messages WHERE account_id = ?`, "acc_none")
		})
	})
}

func compareScans[T any](t *testing.T, s *store.Store, want int, q string, args ...any) {
	t.Helper()
	byPlan, err := store.ScansByPlan[T](s, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	if !byPlan {
		t.Fatalf("scanStructs reads these rows through gorm, so this compares gorm with itself")
	}
	fast, byGorm, err := store.ScanBothWays[T](s, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	if len(fast) != want || len(byGorm) != want {
		t.Fatalf("read %d rows, gorm %d; want %d", len(fast), len(byGorm), want)
	}
	for i := range fast {
		if !reflect.DeepEqual(fast[i], byGorm[i]) {
			t.Errorf("row %d:\n%+v\ngorm:\n%+v", i, fast[i], byGorm[i])
		}
	}
}

// TestScanStructsFallsBack reads rows with a column no field has through
// gorm, which ignores it.
func TestScanStructsFallsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acc := scanRowsFixture(t, s)
		q := `SELECT id, recipient, 1 AS no_such_field FROM messages WHERE account_id = ? ORDER BY id`
		byPlan, err := store.ScansByPlan[store.Message](s, q, acc)
		if err != nil {
			t.Fatal(err)
		}
		if byPlan {
			t.Fatal("a column no field has was mapped")
		}
		fast, byGorm, err := store.ScanBothWays[store.Message](s, q, acc)
		if err != nil {
			t.Fatal(err)
		}
		if len(fast) != 6 || !reflect.DeepEqual(fast, byGorm) {
			t.Errorf("read %+v, gorm %+v", fast, byGorm)
		}
	})
}

// BenchmarkScanStructs reads 256 messages as a dispatch claim does, by
// scanStructs and by gorm.
func BenchmarkScanStructs(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		s := storetest.Open(b, driver)
		ctx := context.Background()
		now := time.Now().UTC()
		msgs := make([]*store.Message, 256)
		for i := range msgs {
			msgs[i] = testRow("acc_1", fmt.Sprintf("+4915123%06d", i), "Load test message", now)
		}
		if err := storetest.InsertMessages(ctx, s, msgs); err != nil {
			b.Fatal(err)
		}
		q := `SELECT * FROM messages`
		b.Run(driver+"/scanStructs", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := store.ScanFast[store.Message](s, q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(driver+"/gorm", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := store.ScanGorm[store.Message](s, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
