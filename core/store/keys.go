package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/recordid"
)

// KeyPrefix starts every raw API key, so a leaked key is recognisable (by
// secret scanners, in logs) as ours.
const KeyPrefix = "api_live_"

// lastUsedEvery bounds how often LastUsedAt is written per key: recording
// every request would turn each authenticated read into a write.
const lastUsedEvery = time.Minute

// APIKey is a stored API key. The raw key is shown once at creation and
// never stored: only its hash and a short prefix to recognise it by.
type APIKey struct {
	ID        string `gorm:"primaryKey;size:40" json:"id"`
	AccountID string `gorm:"size:40;not null;index" json:"account_id"`
	// Account exists only to declare the foreign key; it is not loaded.
	Account *Account `gorm:"constraint:OnDelete:CASCADE" json:"-"`
	Name    string   `gorm:"size:128" json:"name"`
	// Prefix is the start of the raw key, for operators to tell keys apart.
	Prefix string `gorm:"size:16;not null" json:"prefix"`
	// Hash is the hex SHA-256 of the raw key. A fast unsalted hash is right
	// here, unlike for passwords: raw keys carry 256 random bits, so there
	// is nothing to guess or precompute, and lookups by hash stay cheap
	// enough to run on every request.
	Hash string `gorm:"size:64;not null;uniqueIndex" json:"-"`
	// Permissions is a comma-separated list; see Has.
	Permissions string     `gorm:"size:255;not null" json:"permissions"`
	CreatedAt   time.Time  `json:"created_at"`
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	// SMSPerMinute overrides the configured send rate limit for this key;
	// 0 means the configured limit.
	SMSPerMinute int `gorm:"not null;default:0" json:"sms_per_minute,omitempty"`
}

// domain is the key as callers see it.
func (k APIKey) domain() account.APIKey {
	return account.APIKey{ID: k.ID, AccountID: k.AccountID, Name: k.Name, Prefix: k.Prefix, Permissions: k.Permissions,
		CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, SMSPerMinute: k.SMSPerMinute}
}

func hashKey(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// CreateAPIKey creates a key for the account and returns the raw key, which
// exists nowhere else afterwards: show it once.
func (s *Store) CreateAPIKey(ctx context.Context, accountID, name string, perms []string) (string, account.APIKey, error) {
	perms, err := account.NormalizePermissions(perms)
	if err != nil {
		return "", account.APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	if _, err := s.AccountByID(ctx, accountID); err != nil {
		return "", account.APIKey{}, fmt.Errorf("create API key: %w", err)
	}
	raw, key := newAPIKey(accountID, name, perms)
	if err := s.db.WithContext(ctx).Create(&key).Error; err != nil {
		return "", account.APIKey{}, fmt.Errorf("create API key for account %s: %w", accountID, err)
	}
	return raw, key.domain(), nil
}

// newAPIKey makes a key with normalised perms for accountID and returns it
// with its raw value.
func newAPIKey(accountID, name string, perms []string) (string, APIKey) {
	var secret [32]byte
	_, _ = rand.Read(secret[:]) // never fails; see recordid.New
	raw := KeyPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	return raw, APIKey{
		ID:          recordid.New("key_"),
		AccountID:   accountID,
		Name:        strings.TrimSpace(name),
		Prefix:      raw[:12],
		Hash:        hashKey(raw),
		Permissions: strings.Join(perms, ","),
	}
}

// Authenticate returns the live key whose raw value is raw, or
// ErrUnauthorized. It records the key's last use at most once a minute.
func (s *Store) Authenticate(ctx context.Context, raw string) (account.APIKey, error) {
	// Anything that is not shaped like one of our keys cannot match; the
	// length cap keeps hostile headers from costing hashing time.
	if !strings.HasPrefix(raw, KeyPrefix) || len(raw) > 256 {
		return account.APIKey{}, account.ErrUnauthorized
	}
	// Looking up by hash rather than comparing secrets means no comparison
	// of attacker-chosen input with a stored secret ever happens, so
	// response timing reveals nothing about any key.
	hash := hashKey(raw)
	key, gen, ok := s.cachedKey(hash)
	if !ok {
		var err error
		key, err = s.readKey(ctx, hash, gen)
		if errors.Is(notFound(err), ErrNotFound) {
			return account.APIKey{}, account.ErrUnauthorized
		}
		if err != nil {
			return account.APIKey{}, fmt.Errorf("authenticate API key: %w", err)
		}
	}
	if key.RevokedAt != nil {
		return account.APIKey{}, account.ErrUnauthorized
	}
	used := key.LastUsedAt
	s.touch(ctx, &key)
	if key.LastUsedAt != used {
		s.keptUse(hash, key.LastUsedAt)
	}
	return key.domain(), nil
}

// touch records that key was just used, unless that was recorded less than
// lastUsedEvery ago, by any process (the stored value) or by this one.
func (s *Store) touch(ctx context.Context, key *APIKey) {
	now := s.now()
	if key.LastUsedAt != nil && now.Sub(*key.LastUsedAt) < lastUsedEvery {
		return
	}
	s.touchMu.Lock()
	if last, ok := s.touched[key.ID]; ok && now.Sub(last) < lastUsedEvery {
		s.touchMu.Unlock()
		return
	}
	s.touched[key.ID] = now
	s.touchMu.Unlock()

	err := s.db.WithContext(ctx).Model(&APIKey{}).Where("id = ?", key.ID).Update("last_used_at", now).Error
	if err != nil {
		// Last use is bookkeeping: failing to record it must not refuse
		// a valid key. Forget the attempt so the next request retries.
		s.touchMu.Lock()
		delete(s.touched, key.ID)
		s.touchMu.Unlock()
		s.log.Warn("could not record API key use", "key_id", key.ID, "error", err)
		return
	}
	key.LastUsedAt = &now
}

// ListAPIKeys returns the keys of an account, or of all accounts when
// accountID is empty, oldest first, revoked ones included.
func (s *Store) ListAPIKeys(ctx context.Context, accountID string) ([]account.APIKey, error) {
	q := s.db.WithContext(ctx).Order("created_at, id")
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	}
	var out []APIKey
	if err := q.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list API keys: %w", err)
	}
	return domains(out, APIKey.domain), nil
}

// APIKeyByID returns the key with the given id, revoked or not, or an error
// wrapping ErrNotFound.
func (s *Store) APIKeyByID(ctx context.Context, id string) (account.APIKey, error) {
	var k APIKey
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&k).Error; err != nil {
		return account.APIKey{}, fmt.Errorf("API key %s: %w", id, notFound(err))
	}
	return k.domain(), nil
}

// RevokeAPIKey revokes a key at once; revoking a revoked key does nothing.
// An unknown id gives an error wrapping ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	db := s.db.WithContext(ctx)
	res := db.Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now())
	if res.Error != nil {
		return fmt.Errorf("revoke API key %s: %w", id, res.Error)
	}
	if res.RowsAffected > 0 {
		s.keyChanged(ctx, id)
		return nil
	}
	var n int64
	if err := db.Model(&APIKey{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return fmt.Errorf("revoke API key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("revoke API key %s: %w", id, ErrNotFound)
	}
	return nil
}

// splitAdminKeys gives the keys that still carry the admin permission of
// earlier versions, which reached every account, their place in the split:
// admin keys of the installation's first account (where the first key
// printed by serve and every `smsrouter keys create` key live: the
// operator's) become system admins; admin keys of any other account (keys
// handed to tenants, the hole the split closes) become account admins. It
// runs at every migration and finds nothing once no key carries admin.
func (s *Store) splitAdminKeys(db *gorm.DB) error {
	var keys []APIKey
	if err := db.Select("id", "account_id", "permissions").Where("permissions LIKE ?", "%"+account.PermLegacyAdmin+"%").
		Find(&keys).Error; err != nil {
		return fmt.Errorf("find admin keys to split: %w", err)
	}
	var first Account
	if len(keys) > 0 {
		if err := db.Order("created_at, id").Take(&first).Error; err != nil {
			return fmt.Errorf("find the first account: %w", err)
		}
	}
	var system, accountAdmins []string
	for _, k := range keys {
		perms := k.domain().PermissionList()
		i := slices.Index(perms, account.PermLegacyAdmin)
		if i < 0 {
			continue // a name that merely contains "admin", e.g. account_admin
		}
		to := account.PermAccountAdmin
		if k.AccountID == first.ID {
			to = account.PermSystemAdmin
		}
		perms[i] = to
		var kept []string
		for _, p := range perms {
			if !slices.Contains(kept, p) {
				kept = append(kept, p)
			}
		}
		if err := db.Model(&APIKey{}).Where("id = ?", k.ID).Update("permissions", strings.Join(kept, ",")).Error; err != nil {
			return fmt.Errorf("split admin key %s: %w", k.ID, err)
		}
		if to == account.PermSystemAdmin {
			system = append(system, k.ID)
		} else {
			accountAdmins = append(accountAdmins, k.ID)
		}
	}
	if len(system)+len(accountAdmins) > 0 {
		s.log.Warn("the admin permission is split: admin keys of the first account are now system_admin, the others account_admin; check with `smsrouter keys list`",
			"first_account", first.ID, "system_admin", strings.Join(system, ","), "account_admin", strings.Join(accountAdmins, ","))
	}
	return nil
}
