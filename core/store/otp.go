package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
)

// OTPCode is a one-time code sent to a phone. Only a salted hash of the
// code is stored; rows are kept for an hour after they stop mattering so
// that the per-number send limit can count them.
type OTPCode struct {
	ID        string `gorm:"primaryKey;size:40"`
	AccountID string `gorm:"size:40;not null;index:idx_otp_codes_phone,priority:1"`
	Phone     string `gorm:"size:20;not null;index:idx_otp_codes_phone,priority:2"`
	MessageID string `gorm:"size:40;not null"`
	Salt      string `gorm:"size:64;not null"`
	Hash      string `gorm:"size:64;not null"`
	// Attempts counts verify attempts, successful or not.
	Attempts  int       `gorm:"not null;default:0"`
	ExpiresAt time.Time `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null;index:idx_otp_codes_phone,priority:3;index:idx_otp_codes_created"`
	UsedAt    *time.Time
}

// CreateOTP stores a new code and the message carrying it in one
// transaction, unless the account already sent limit codes to the number
// within window (then a *account.RateLimitError) or cannot pay for the message
// (then an *account.InsufficientCreditError). The number's pending code, if
// any, stops being valid: the newest code is the only one that verifies.
func (s *Store) CreateOTP(ctx context.Context, otp intake.OTPCode, msg *intake.Message, limit int, window time.Duration) error {
	now := s.now()
	code := &OTPCode{ID: otp.ID, AccountID: otp.AccountID, Phone: otp.Phone, MessageID: otp.MessageID, Salt: otp.Salt,
		Hash: otp.Hash, ExpiresAt: otp.ExpiresAt, CreatedAt: now}
	row := newMessageRow(msg)
	err := s.transaction(ctx, func(tx *eventTx) error {
		if s.driver == DriverPostgres {
			// Counting then inserting is only exact when concurrent sends to
			// the number take turns; SQLite's write lock already does that.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "otp:"+code.AccountID+":"+code.Phone).Error; err != nil {
				return fmt.Errorf("lock the number: %w", err)
			}
		}
		scope := tx.Model(&OTPCode{}).Where("account_id = ? AND phone = ?", code.AccountID, code.Phone)
		if limit > 0 {
			var recent []time.Time
			if err := scope.Session(&gorm.Session{}).Where("created_at > ?", now.Add(-window)).
				Order("created_at").Pluck("created_at", &recent).Error; err != nil {
				return fmt.Errorf("count recent codes: %w", err)
			}
			if len(recent) >= limit {
				return &account.RateLimitError{Limit: limit, Window: window, RetryAfter: recent[len(recent)-limit].Add(window).Sub(now)}
			}
		}
		if err := scope.Session(&gorm.Session{}).Where("created_at <= ? AND expires_at <= ?", now.Add(-window), now).
			Delete(&OTPCode{}).Error; err != nil {
			return fmt.Errorf("forget old codes: %w", err)
		}
		if err := scope.Session(&gorm.Session{}).Where("used_at IS NULL AND expires_at > ?", now).
			Update("expires_at", now).Error; err != nil {
			return fmt.Errorf("replace the pending code: %w", err)
		}
		if err := tx.Create(code).Error; err != nil {
			return fmt.Errorf("store code: %w", err)
		}
		// The code's message is paid for like any other; a code the
		// account cannot afford is not stored either.
		refused := []error{nil}
		if _, err := s.chargeAcceptances(tx, []intake.Acceptance{{Messages: []*intake.Message{msg}}}, refused, true); err != nil {
			return err
		}
		if refused[0] != nil {
			return refused[0]
		}
		if err := s.insertMessages(tx.DB, []*Message{&row}); err != nil {
			return err
		}
		return s.writeCharges(tx, []*Message{&row}, now)
	})
	var rl *account.RateLimitError
	if errors.As(err, &rl) {
		return rl
	}
	var ce *account.InsufficientCreditError
	if errors.As(err, &ce) {
		return ce
	}
	if err != nil {
		return fmt.Errorf("create OTP for %s: %w", code.AccountID, err)
	}
	return nil
}

// VerifyOTP checks a code against the number's pending one: match is
// called with the stored code and compares in constant time. It returns
// true once per code, on a match within its lifetime and within
// maxAttempts attempts; every call counts as an attempt.
func (s *Store) VerifyOTP(ctx context.Context, accountID, phone string, maxAttempts int, match func(intake.OTPCode) bool) (bool, error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	var c OTPCode
	err := db.Where("account_id = ? AND phone = ? AND used_at IS NULL AND expires_at > ?", accountID, phone, now).
		Order("created_at DESC").Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("verify OTP: find the pending code: %w", err)
	}
	// Counting the attempt before comparing, in one guarded statement,
	// means concurrent guesses cannot exceed the limit between them.
	res := db.Model(&OTPCode{}).Where("id = ? AND attempts < ? AND used_at IS NULL", c.ID, maxAttempts).
		Update("attempts", gorm.Expr("attempts + 1"))
	if res.Error != nil {
		return false, fmt.Errorf("verify OTP: count the attempt: %w", res.Error)
	}
	if res.RowsAffected == 0 || !match(intake.OTPCode{ID: c.ID, AccountID: c.AccountID, Phone: c.Phone, MessageID: c.MessageID, Salt: c.Salt, Hash: c.Hash, ExpiresAt: c.ExpiresAt}) {
		return false, nil
	}
	res = db.Model(&OTPCode{}).Where("id = ? AND used_at IS NULL", c.ID).Update("used_at", now)
	if res.Error != nil {
		return false, fmt.Errorf("verify OTP: mark the code used: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}
