package core

import (
	"context"
	"errors"
	"strings"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/money"
)

// What the installation's operator does from the command line
// (smsrouter accounts, smsrouter keys): whoever can open the database
// manages every account, as a system admin key would through the API.

// Operator is the caller the command line acts as.
var Operator = account.APIKey{ID: "operator", Name: "command line", Permissions: account.PermSystemAdmin}

// Accounts returns every account, oldest first.
func (s *Service) Accounts(ctx context.Context) ([]account.Account, error) {
	return s.store.ListAccounts(ctx)
}

// FindAccount takes an account id (acc_...) or name; an error wraps
// account.ErrNotFound when neither names one. A name that looks like an
// id is still looked up as a name.
func (s *Service) FindAccount(ctx context.Context, ref string) (account.Account, error) {
	if strings.HasPrefix(ref, "acc_") {
		if acc, err := s.store.AccountByID(ctx, ref); !errors.Is(err, account.ErrNotFound) {
			return acc, err
		}
	}
	return s.store.AccountByName(ctx, ref)
}

// DefaultAccount is the account keys made without naming one belong to:
// the oldest, or a new one named "default" on a fresh install.
func (s *Service) DefaultAccount(ctx context.Context) (account.Account, error) {
	acc, err := s.store.FirstAccount(ctx)
	if errors.Is(err, account.ErrNotFound) {
		return s.store.EnsureAccount(ctx, "default")
	}
	return acc, err
}

// SetCreditLimit sets how far below zero the account's balance may go;
// nil: sends are never refused for credit.
func (s *Service) SetCreditLimit(ctx context.Context, accountID string, limit *money.Amount) error {
	return s.store.SetCreditLimit(ctx, accountID, limit)
}

// SetLowBalance sets the account's balance.low threshold; nil: the
// config's.
func (s *Service) SetLowBalance(ctx context.Context, accountID string, threshold *money.Amount) error {
	return s.store.SetLowBalance(ctx, accountID, threshold)
}
