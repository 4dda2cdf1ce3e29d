package account

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Permissions an API key can carry.
const (
	PermSendSMS    = "send_sms"
	PermReceiveSMS = "receive_sms"
	PermSendOTP    = "send_otp"
	PermVerifyOTP  = "verify_otp"
	// PermAccountAdmin manages its own account: its keys and settings, and
	// every permission above on it. It reaches no other account.
	PermAccountAdmin = "account_admin"
	// PermSystemAdmin manages the installation: accounts and their credit,
	// providers, routing, and keys on any account. It grants every other
	// permission too.
	PermSystemAdmin = "system_admin"
	// PermLegacyAdmin is the one admin permission of earlier versions,
	// which reached every account. Given as input it means
	// PermAccountAdmin; the store splits keys that still carry it when it
	// migrates.
	PermLegacyAdmin = "admin"
)

// ErrForbidden means a key is valid but may not do what was asked; the
// wrapping error says why, for the caller to show.
var ErrForbidden = errors.New("forbidden")

// ErrUnauthorized means an API key is unknown or revoked. Callers must not
// tell the two apart in their answers.
var ErrUnauthorized = errors.New("invalid or revoked API key")

// AllPermissions lists the valid permissions.
func AllPermissions() []string {
	return []string{PermSendSMS, PermReceiveSMS, PermSendOTP, PermVerifyOTP, PermAccountAdmin, PermSystemAdmin}
}

// APIKey is an API key as callers see it. The raw key is shown once at
// creation and never kept: only a short prefix to recognise it by. It has
// no JSON names: the server renders keys in its own shape (permissions as
// an array).
type APIKey struct {
	ID        string
	AccountID string
	Name      string
	// Prefix is the start of the raw key, for operators to tell keys apart.
	Prefix string
	// Permissions is a comma-separated list; see Has.
	Permissions string
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	RevokedAt   *time.Time
	// SMSPerMinute overrides the configured send rate limit for this key;
	// 0 means the configured limit.
	SMSPerMinute int
}

// Has reports whether the key grants perm. PermSystemAdmin grants
// everything; PermAccountAdmin everything but PermSystemAdmin (on its own
// account: see Manages).
func (k APIKey) Has(perm string) bool {
	for _, p := range k.PermissionList() {
		switch {
		case p == perm, p == PermSystemAdmin:
			return true
		case (p == PermAccountAdmin || p == PermLegacyAdmin) && perm != PermSystemAdmin:
			// PermLegacyAdmin is only seen on a key a node of an earlier
			// version wrote after this one migrated; it gets the lesser power.
			return true
		}
	}
	return false
}

// Manages reports whether the key may manage the account's keys and
// settings: a system admin manages every account, an account admin its own.
func (k APIKey) Manages(accountID string) bool {
	return k.Has(PermSystemAdmin) || (k.Has(PermAccountAdmin) && k.AccountID == accountID)
}

// MayGrant returns an error wrapping ErrForbidden when the key may not give
// a key on accountID the permissions perms: an account admin hands out
// permissions on its own account only, and never system_admin.
func (k APIKey) MayGrant(accountID string, perms []string) error {
	if !k.Manages(accountID) {
		return fmt.Errorf("%w: an %s key manages the keys of its own account (%s) only; keys of other accounts need a %s key",
			ErrForbidden, PermAccountAdmin, k.AccountID, PermSystemAdmin)
	}
	if slices.Contains(perms, PermSystemAdmin) && !k.Has(PermSystemAdmin) {
		return fmt.Errorf("%w: only a %s key can create or revoke a key with %s", ErrForbidden, PermSystemAdmin, PermSystemAdmin)
	}
	return nil
}

// PermissionList returns the key's permissions as a list.
func (k APIKey) PermissionList() []string {
	if k.Permissions == "" {
		return nil
	}
	return strings.Split(k.Permissions, ",")
}

// Revoked reports whether the key has been revoked.
func (k APIKey) Revoked() bool { return k.RevokedAt != nil }

// ParsePermissions splits a comma-separated permission list (as typed on a
// command line) and validates it.
func ParsePermissions(list string) ([]string, error) {
	return NormalizePermissions(strings.Split(list, ","))
}

// NormalizePermissions validates perms and returns them lower-cased,
// trimmed and without repeats, PermLegacyAdmin read as PermAccountAdmin.
func NormalizePermissions(perms []string) ([]string, error) {
	valid := AllPermissions()
	var out []string
	for _, p := range perms {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if p == PermLegacyAdmin {
			// Scripts written for earlier versions keep working, with the
			// power that is safe to assume: their own account.
			p = PermAccountAdmin
		}
		if !slices.Contains(valid, p) {
			return nil, fmt.Errorf("unknown permission %q (valid: %s)", p, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no permission given (valid: %s)", strings.Join(valid, ", "))
	}
	return out, nil
}
