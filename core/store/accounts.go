package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/recordid"
)

// Account owns API keys and messages: one application or customer.
type Account struct {
	ID        string    `gorm:"primaryKey;size:40" json:"id"`
	Name      string    `gorm:"size:128;not null;uniqueIndex" json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Balance is the account's credit in the configured currency; it
	// moves only together with a ledger entry, and equals their sum.
	Balance money.Amount `gorm:"column:balance_micros;not null;default:0" json:"balance"`
	// CreditLimit is how far below zero the balance may go: nil means no
	// limit (postpaid: sends are never refused, charges still recorded),
	// 0 means prepaid.
	CreditLimit *money.Amount `gorm:"column:credit_limit_micros" json:"credit_limit"`
	// LowBalance is the account's own balance.low threshold; nil means
	// the configured one.
	LowBalance *money.Amount `gorm:"column:low_balance_micros" json:"low_balance,omitempty"`
	// MessageBodies is what the account's messages keep of their text
	// once final: a MessageBodies policy ("full" for accounts made before
	// the setting existed).
	MessageBodies string `gorm:"size:8;not null;default:'full'" json:"message_bodies"`
}

// domain is the account as callers see it.
func (a Account) domain() account.Account {
	return account.Account{ID: a.ID, Name: a.Name, CreatedAt: a.CreatedAt, Balance: a.Balance, CreditLimit: a.CreditLimit,
		LowBalance: a.LowBalance, MessageBodies: account.MessageBodies(a.MessageBodies)}
}

// CreateAccount stores a new account. Names are unique: a taken name gives
// an error wrapping ErrConflict.
func (s *Store) CreateAccount(ctx context.Context, name string) (account.Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return account.Account{}, errors.New("create account: the name is empty")
	}
	acc := Account{ID: recordid.New("acc_"), Name: name, CreatedAt: s.now(), Balance: s.billing.OpeningCredit, CreditLimit: s.billing.CreditLimit,
		MessageBodies: string(account.BodiesFull)}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&acc).Error; err != nil {
			return err
		}
		return s.openAccount(tx, &acc)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return account.Account{}, fmt.Errorf("create account %q: %w", name, ErrConflict)
	}
	if err != nil {
		return account.Account{}, fmt.Errorf("create account %q: %w", name, err)
	}
	return acc.domain(), nil
}

// EnsureAccount returns the account with the given name, creating it if
// there is none.
func (s *Store) EnsureAccount(ctx context.Context, name string) (account.Account, error) {
	acc, err := s.AccountByName(ctx, name)
	if !errors.Is(err, ErrNotFound) {
		return acc, err
	}
	acc, err = s.CreateAccount(ctx, name)
	if errors.Is(err, ErrConflict) {
		// Another process created it between our read and our write.
		return s.AccountByName(ctx, name)
	}
	return acc, err
}

// AccountByID returns the account with the given id, or ErrNotFound.
func (s *Store) AccountByID(ctx context.Context, id string) (account.Account, error) {
	var acc Account
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&acc).Error; err != nil {
		return account.Account{}, fmt.Errorf("account %s: %w", id, notFound(err))
	}
	return acc.domain(), nil
}

// AccountByName returns the account with the given name, or ErrNotFound.
func (s *Store) AccountByName(ctx context.Context, name string) (account.Account, error) {
	var acc Account
	if err := s.db.WithContext(ctx).Where("name = ?", strings.TrimSpace(name)).Take(&acc).Error; err != nil {
		return account.Account{}, fmt.Errorf("account %q: %w", name, notFound(err))
	}
	return acc.domain(), nil
}

// FirstAccount returns the oldest account, or ErrNotFound when there is none.
func (s *Store) FirstAccount(ctx context.Context) (account.Account, error) {
	var acc Account
	if err := s.db.WithContext(ctx).Order("created_at, id").Take(&acc).Error; err != nil {
		return account.Account{}, fmt.Errorf("first account: %w", notFound(err))
	}
	return acc.domain(), nil
}

// ListAccounts returns all accounts, oldest first.
func (s *Store) ListAccounts(ctx context.Context) ([]account.Account, error) {
	var out []Account
	if err := s.db.WithContext(ctx).Order("created_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return domains(out, Account.domain), nil
}
