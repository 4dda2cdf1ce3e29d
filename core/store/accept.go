package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

func init() {
	RegisterModels(&IdempotencyRecord{}, &DuplicateClaim{})
}

// IdempotencyRecord is the answer given to a request sent with an
// Idempotency-Key, replayed when the same key comes again.
type IdempotencyRecord struct {
	AccountID string `gorm:"primaryKey;size:40"`
	Key       string `gorm:"primaryKey;size:191"`
	// RequestHash identifies the request (method, path, body), so that the
	// key reused for a different request is told apart from a retry.
	RequestHash string    `gorm:"size:64;not null"`
	StatusCode  int       `gorm:"not null"`
	Body        string    `gorm:"not null"`
	CreatedAt   time.Time `gorm:"not null"`
	ExpiresAt   time.Time `gorm:"not null;index"`
}

// DuplicateClaim marks a message (account, recipient, text) as sent until
// Until (Unix milliseconds), to refuse accidental repeats.
type DuplicateClaim struct {
	AccountID   string `gorm:"primaryKey;size:40"`
	Fingerprint string `gorm:"primaryKey;size:64"`
	MessageID   string `gorm:"size:40;not null"`
	Until       int64  `gorm:"not null;index"`
}

// DuplicateError means a message was refused as a repeat of MessageID.
type DuplicateError struct {
	MessageID string
}

func (e *DuplicateError) Error() string {
	return "the same message to the same recipient was accepted moments ago as " + e.MessageID
}

// ReplayError means the Idempotency-Key was used before; Record is the
// answer stored then.
type ReplayError struct {
	Record IdempotencyRecord
}

func (e *ReplayError) Error() string { return "idempotency key " + e.Record.Key + " was used before" }

// Acceptance is newly accepted messages and what must be stored with them,
// all or nothing.
type Acceptance struct {
	Messages []*Message
	// Duplicates are fingerprints of messages (one per message, or none)
	// claimed until DuplicateUntil; an unexpired earlier claim refuses the
	// whole acceptance with a *DuplicateError.
	Duplicates     []DuplicateClaim
	DuplicateUntil time.Time
	// Idempotency, when set, is stored; a record already stored for the key
	// refuses the acceptance with a *ReplayError carrying it.
	Idempotency *IdempotencyRecord
}

// Accept stores the messages with their duplicate claims and idempotency
// record in one transaction.
func (s *Store) Accept(ctx context.Context, a Acceptance) error {
	now := s.now()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if rec := a.Idempotency; rec != nil {
			rec.CreatedAt = now
			// An expired record is overwritten; a live one is the answer.
			res := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "account_id"}, {Name: "key"}},
				DoUpdates: clause.AssignmentColumns([]string{"request_hash", "status_code", "body", "created_at", "expires_at"}),
				Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "idempotency_records.expires_at <= ?", Vars: []any{now}}}},
			}).Create(rec)
			if res.Error != nil {
				return fmt.Errorf("store idempotency key: %w", res.Error)
			}
			if res.RowsAffected == 0 {
				var prev IdempotencyRecord
				if err := tx.Where("account_id = ? AND key = ?", rec.AccountID, rec.Key).Take(&prev).Error; err != nil {
					return fmt.Errorf("read idempotency key: %w", err)
				}
				return &ReplayError{Record: prev}
			}
		}
		until := a.DuplicateUntil.UnixMilli()
		for _, d := range a.Duplicates {
			d.Until = until
			res := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "account_id"}, {Name: "fingerprint"}},
				DoUpdates: clause.AssignmentColumns([]string{"message_id", "until"}),
				Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "duplicate_claims.until <= ?", Vars: []any{now.UnixMilli()}}}},
			}).Create(&d)
			if res.Error != nil {
				return fmt.Errorf("claim duplicate window: %w", res.Error)
			}
			if res.RowsAffected == 0 {
				var prev DuplicateClaim
				if err := tx.Where("account_id = ? AND fingerprint = ?", d.AccountID, d.Fingerprint).Take(&prev).Error; err != nil {
					return fmt.Errorf("read duplicate claim: %w", err)
				}
				return &DuplicateError{MessageID: prev.MessageID}
			}
		}
		return insertMessages(tx, a.Messages)
	})
	var de *DuplicateError
	var re *ReplayError
	if errors.As(err, &de) || errors.As(err, &re) {
		return err
	}
	if err != nil {
		return fmt.Errorf("accept %d messages: %w", len(a.Messages), err)
	}
	return nil
}

// IdempotencyRecordFor returns the live record stored for the account's
// key, or ErrNotFound.
func (s *Store) IdempotencyRecordFor(ctx context.Context, accountID, key string) (IdempotencyRecord, error) {
	var rec IdempotencyRecord
	err := s.db.WithContext(ctx).Where("account_id = ? AND key = ? AND expires_at > ?", accountID, key, s.now()).Take(&rec).Error
	if err != nil {
		return IdempotencyRecord{}, fmt.Errorf("idempotency key: %w", notFound(err))
	}
	return rec, nil
}

// ForgetExpired deletes idempotency records and duplicate claims past
// their time; old rows only cost space, so callers run it now and then.
func (s *Store) ForgetExpired(ctx context.Context) error {
	now := s.now()
	db := s.db.WithContext(ctx)
	if err := db.Where("expires_at <= ?", now).Delete(&IdempotencyRecord{}).Error; err != nil {
		return fmt.Errorf("forget expired idempotency keys: %w", err)
	}
	if err := db.Where("until <= ?", now.UnixMilli()).Delete(&DuplicateClaim{}).Error; err != nil {
		return fmt.Errorf("forget expired duplicate claims: %w", err)
	}
	return nil
}
