package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/recordid"
)

// firstKeyLockID names the PostgreSQL advisory lock under which a server
// looks for keys and makes the first one, so that servers starting together
// on an empty database make one key between them.
const firstKeyLockID = 0x736d736669727374 // "smsfirst"

// FirstAccountName is the account a fresh database's first key is made on
// when there is no account yet.
const FirstAccountName = "default"

// CreateFirstAPIKey makes a key on the first (oldest) account, creating the
// account FirstAccountName when there is none, if the database holds no key
// at all, revoked ones included. It returns the raw key, to be shown once,
// and created false (and no key) when a key exists already.
//
// Several processes calling it at once on one empty database make one key:
// the check and the creation are one transaction, which takes SQLite's write
// lock up front (IMMEDIATE) and on PostgreSQL an advisory lock first.
func (s *Store) CreateFirstAPIKey(ctx context.Context, name string, perms []string) (raw string, key APIKey, created bool, err error) {
	perms, err = account.NormalizePermissions(perms)
	if err != nil {
		return "", APIKey{}, false, fmt.Errorf("create the first API key: %w", err)
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", firstKeyLockID).Error; err != nil {
				return fmt.Errorf("wait for other servers making the first key: %w", err)
			}
		}
		var n int64
		if err := tx.Model(&APIKey{}).Limit(1).Count(&n).Error; err != nil || n > 0 {
			return err
		}
		acc, err := s.firstAccount(tx)
		if err != nil {
			return err
		}
		raw, key = newAPIKey(acc.ID, name, perms)
		if err := tx.Create(&key).Error; err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return "", APIKey{}, false, fmt.Errorf("create the first API key: %w", err)
	}
	return raw, key, created, nil
}

// firstAccount returns the oldest account inside tx, creating
// FirstAccountName when there is none.
func (s *Store) firstAccount(tx *gorm.DB) (Account, error) {
	var acc Account
	err := tx.Order("created_at, id").Take(&acc).Error
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return acc, err
	}
	acc = Account{ID: recordid.New("acc_"), Name: FirstAccountName, CreatedAt: s.now(), Balance: s.billing.OpeningCredit,
		CreditLimit: s.billing.CreditLimit}
	if err := tx.Create(&acc).Error; err != nil {
		return Account{}, fmt.Errorf("create account %q: %w", FirstAccountName, err)
	}
	return acc, s.openAccount(tx, &acc)
}
