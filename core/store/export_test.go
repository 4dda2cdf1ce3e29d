package store

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// Methods only this package's tests use.

// OrderReads is how many times event transactions (of any store in the
// process) read the pending events of messages to order a new event.
func OrderReads() int64 { return orderReads.Load() }

// NextReads is how many times records of webhook results read the pending
// events of finished deliveries' messages, to lease the next.
func NextReads() int64 { return nextReads.Load() }

// KeyCacheLive reports whether verified API keys are being kept in memory
// (this process hears key changes), so tests can wait for it.
func (s *Store) KeyCacheLive() bool {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return s.keys.live
}

// CountAPIKeys returns how many keys exist, revoked ones included.
func (s *Store) CountAPIKeys(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.WithContext(ctx).Model(&APIKey{}).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count API keys: %w", err)
	}
	return n, nil
}

// RefundMessages refunds the messages' charges in its own transaction;
// messages refunded before, or never charged, are skipped.
func (s *Store) RefundMessages(ctx context.Context, ids []string, reason string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return refundMessages(tx, ids, reason, s.now())
	})
}

// LedgerSum is the sum of the account's ledger entries, which equals its
// balance; tests compare the two.
func (s *Store) LedgerSum(ctx context.Context, accountID string) (money.Amount, error) {
	var sum money.Amount
	if err := s.db.WithContext(ctx).Raw("SELECT COALESCE(SUM(amount_micros), 0) FROM ledger_entries WHERE account_id = ?", accountID).
		Scan(&sum).Error; err != nil {
		return 0, fmt.Errorf("sum the ledger of account %s: %w", accountID, err)
	}
	return sum, nil
}

// EnqueueWebhook writes an event for the account into the webhook outbox
// inside tx, as the store's own transactions do, for claims only.
func EnqueueWebhook(tx *gorm.DB, accountID, messageID string, eventType outbox.EventType, data any, at time.Time) error {
	return enqueueWebhook(&eventTx{DB: tx, out: &txOutbox{}}, accountID, messageID, eventType, data, at)
}

// PickQuery is the SELECT that picks the number to assign for req.
func (s *Store) PickQuery(req numbers.Request) (string, []any) { return s.pickQuery(req) }

// InsertColumns is the per-column arrays insertRows sends PostgreSQL for
// rows (a slice of a model), with now for unset creation and update times.
func InsertColumns(s *Store, rows any, now time.Time) ([]any, error) {
	rv := reflect.ValueOf(rows)
	plan, err := insertPlanFor(s.db, rv.Type().Elem())
	if err != nil {
		return nil, err
	}
	return plan.columns(context.Background(), rv, now), nil
}

// WebhookTarget is what a report's or event's webhook read returns.
type WebhookTarget = webhookTarget

// WebhookTargetColumns are the message columns of a WebhookTarget.
const WebhookTargetColumns = webhookTargetColumns

// ScanBothWays reads the rows of query into Ts twice: by scanStructs and
// by gorm's Scan, which it must agree with.
func ScanBothWays[T any](s *Store, query string, args ...any) (fast, byGorm []T, err error) {
	ctx := context.Background()
	rows, err := s.db.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return nil, nil, err
	}
	if fast, err = scanStructs[T](s.db.WithContext(ctx), rows); err != nil {
		return nil, nil, err
	}
	err = s.db.WithContext(ctx).Raw(query, args...).Scan(&byGorm).Error
	return fast, byGorm, err
}

// ScansByPlan reports whether scanStructs reads query's rows into Ts
// itself rather than through gorm.
func ScansByPlan[T any](s *Store, query string, args ...any) (bool, error) {
	rows, err := s.db.Raw(query, args...).Rows()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return false, err
	}
	return scanPlanFor(s.db, reflect.TypeFor[T](), cols) != nil, nil
}

// ScanFast reads query's rows into Ts by scanStructs.
func ScanFast[T any](s *Store, query string, args ...any) ([]T, error) {
	rows, err := s.db.Raw(query, args...).Rows()
	if err != nil {
		return nil, err
	}
	return scanStructs[T](s.db, rows)
}

// ScanGorm reads query's rows into Ts by gorm's Scan.
func ScanGorm[T any](s *Store, query string, args ...any) ([]T, error) {
	var out []T
	return out, s.db.Raw(query, args...).Scan(&out).Error
}

// ReportTargetsArrayQuery is the statement that reads the messages of
// reports on PostgreSQL ($1 the provider, $2 the ids).
const ReportTargetsArrayQuery = reportTargetsArrayQuery

// PendingDeliveriesArrayQuery is the statement that reads the pending
// deliveries of messages on PostgreSQL.
const PendingDeliveriesArrayQuery = pendingDeliveriesArrayQuery

// APIKeyReads is how many times stores of this process read an API key
// from the database.
func APIKeyReads() int64 { return apiKeyReads.Load() }
