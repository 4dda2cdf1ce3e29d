package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

var rawKeyFormat = regexp.MustCompile(`^api_live_[A-Za-z0-9_-]{43,}$`)

func TestCreateAndAuthenticateAPIKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		raw, key, err := s.CreateAPIKey(ctx, acc.ID, "backend", []string{account.PermSendSMS, " Send_OTP ", account.PermSendSMS})
		if err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
		if !rawKeyFormat.MatchString(raw) {
			t.Errorf("raw key %q does not look like api_live_ + 43 url-safe characters", raw)
		}
		if !strings.HasPrefix(key.ID, "key_") || key.AccountID != acc.ID || key.Name != "backend" {
			t.Errorf("created key = %+v", key)
		}
		if key.Prefix != raw[:12] {
			t.Errorf("Prefix = %q, want the first 12 characters of the raw key", key.Prefix)
		}
		if key.Permissions != "send_sms,send_otp" {
			t.Errorf("Permissions = %q, want normalised send_sms,send_otp", key.Permissions)
		}

		got, err := s.Authenticate(ctx, raw)
		if err != nil {
			t.Fatalf("Authenticate(created key): %v", err)
		}
		if got.ID != key.ID || got.AccountID != acc.ID {
			t.Errorf("Authenticate = %+v, want key %s of account %s", got, key.ID, acc.ID)
		}
		if !got.Has(account.PermSendSMS) || !got.Has(account.PermSendOTP) || got.Has(account.PermReceiveSMS) {
			t.Errorf("authenticated key permissions = %q", got.Permissions)
		}
	})
}

func TestAuthenticateRefusesWrongKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		raw, _, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSystemAdmin})
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := s.CreateAPIKey(ctx, acc.ID, "k2", []string{account.PermAccountAdmin})
		if err != nil {
			t.Fatal(err)
		}
		flipped := []byte(raw)
		flipped[len(flipped)-1] ^= 1
		for name, candidate := range map[string]string{
			"empty":             "",
			"garbage":           "hello",
			"prefix only":       store.KeyPrefix,
			"last char changed": string(flipped),
			"extra char":        raw + "A",
			"truncated":         raw[:len(raw)-1],
			"with bearer":       "Bearer " + raw,
			"prefix of key":     raw[:12],
			"hash of key":       sha(raw),
			"huge":              store.KeyPrefix + strings.Repeat("A", 1<<16),
		} {
			if _, err := s.Authenticate(ctx, candidate); !errors.Is(err, account.ErrUnauthorized) {
				t.Errorf("%s: Authenticate err = %v, want ErrUnauthorized", name, err)
			}
		}
		if _, err := s.Authenticate(ctx, other); err != nil {
			t.Errorf("the other key stopped working: %v", err)
		}
	})
}

func TestRevokedKeyRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		raw, key, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, raw); err != nil {
			t.Fatalf("before revoking: %v", err)
		}
		if err := s.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatalf("RevokeAPIKey: %v", err)
		}
		if _, err := s.Authenticate(ctx, raw); !errors.Is(err, account.ErrUnauthorized) {
			t.Errorf("revoked key: Authenticate err = %v, want ErrUnauthorized", err)
		}
		if err := s.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Errorf("revoking twice: %v", err)
		}
		if err := s.RevokeAPIKey(ctx, "key_unknown"); !isNotFound(err) {
			t.Errorf("RevokeAPIKey(unknown) err = %v, want ErrNotFound", err)
		}
		keys, err := s.ListAPIKeys(ctx, acc.ID)
		if err != nil || len(keys) != 1 || !keys[0].Revoked() {
			t.Errorf("ListAPIKeys after revoking = %+v, %v; want one revoked key", keys, err)
		}
	})
}

func TestKeyStoredOnlyAsHash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		raw, key, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.DB().Raw("SELECT * FROM api_keys").Rows()
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			found := false
			for i, v := range vals {
				var text string
				switch v := v.(type) {
				case string:
					text = v
				case []byte:
					text = string(v)
				}
				if strings.Contains(text, raw[12:]) {
					t.Errorf("column %s holds the secret part of the raw key", cols[i])
				}
				if text == sha(raw) {
					found = true
				}
			}
			if !found {
				t.Error("no column holds the SHA-256 of the raw key")
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("api_keys has %d rows, want 1", n)
		}
		var hash string
		if err := s.DB().Raw("SELECT hash FROM api_keys WHERE id = ?", key.ID).Scan(&hash).Error; err != nil {
			t.Fatal(err)
		}
		if hash != sha(raw) {
			t.Errorf("hash = %q, want the hex SHA-256 of the raw key", hash)
		}
	})
}

func TestCreateAPIKeyValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		_, _, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS, "send_fax"})
		if err == nil {
			t.Fatal("CreateAPIKey with an unknown permission succeeded")
		}
		for _, want := range append([]string{`"send_fax"`}, account.AllPermissions()...) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
		if _, _, err := s.CreateAPIKey(ctx, acc.ID, "k", nil); err == nil {
			t.Error("CreateAPIKey without permissions succeeded")
		}
		if _, _, err := s.CreateAPIKey(ctx, "acc_missing", "k", []string{account.PermSendSMS}); !isNotFound(err) {
			t.Errorf("CreateAPIKey for an unknown account: err = %v, want ErrNotFound", err)
		}
		// The foreign key itself, not only CreateAPIKey's check, keeps keys
		// tied to real accounts.
		orphan := store.APIKey{ID: recordid.New("key_"), AccountID: "acc_missing", Prefix: "x", Hash: sha("x"), Permissions: account.PermSendSMS}
		if err := s.DB().Create(&orphan).Error; !errors.Is(err, gorm.ErrForeignKeyViolated) {
			t.Errorf("inserting a key of an unknown account: err = %v, want a foreign key violation", err)
		}
		if n, err := s.CountAPIKeys(ctx); err != nil || n != 0 {
			t.Errorf("CountAPIKeys after failed creations = %d, %v; want 0", n, err)
		}
	})
}

func TestListAPIKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		a := mustAccount(t, s, "a")
		b := mustAccount(t, s, "b")
		for _, accID := range []string{a.ID, b.ID, a.ID} {
			if _, _, err := s.CreateAPIKey(ctx, accID, "k", []string{account.PermSendSMS}); err != nil {
				t.Fatal(err)
			}
		}
		for accID, want := range map[string]int{a.ID: 2, b.ID: 1, "": 3, "acc_none": 0} {
			keys, err := s.ListAPIKeys(ctx, accID)
			if err != nil || len(keys) != want {
				t.Errorf("ListAPIKeys(%q) = %d keys, %v; want %d", accID, len(keys), err, want)
			}
			for _, k := range keys {
				if accID != "" && k.AccountID != accID {
					t.Errorf("ListAPIKeys(%q) returned a key of %s", accID, k.AccountID)
				}
			}
		}
		if n, err := s.CountAPIKeys(ctx); err != nil || n != 3 {
			t.Errorf("CountAPIKeys = %d, %v; want 3", n, err)
		}
	})
}

func TestLastUsedRecordedAtMostOncePerMinute(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	storetest.EachWith(t, store.Options{Now: clock.Now}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		start := clock.Now()
		acc := mustAccount(t, s, "acme")
		raw, key, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		if key.LastUsedAt != nil || !key.CreatedAt.Equal(start) {
			t.Fatalf("new key: LastUsedAt = %v, CreatedAt = %v; want nil and %v", key.LastUsedAt, key.CreatedAt, start)
		}

		check := func(step string, want time.Time) {
			t.Helper()
			got, err := s.Authenticate(ctx, raw)
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
				t.Errorf("%s: returned LastUsedAt = %v, want %v", step, got.LastUsedAt, want)
			}
			keys, err := s.ListAPIKeys(ctx, acc.ID)
			if err != nil || len(keys) != 1 {
				t.Fatalf("%s: ListAPIKeys = %v, %v", step, keys, err)
			}
			if keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(want) {
				t.Errorf("%s: stored LastUsedAt = %v, want %v", step, keys[0].LastUsedAt, want)
			}
		}
		check("first use", start)
		clock.Advance(30 * time.Second)
		check("30s later", start)
		clock.Advance(31 * time.Second)
		check("61s after the first use", start.Add(61*time.Second))
		clock.Advance(time.Second)
		check("62s after the first use", start.Add(61*time.Second))
	})
}

func TestConcurrentAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		var raws []string
		for range 3 {
			raw, _, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS})
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, raw)
		}
		const workers, rounds = 16, 20
		var wg sync.WaitGroup
		errs := make(chan error, workers*rounds)
		for w := range workers {
			wg.Go(func() {
				for r := range rounds {
					raw := raws[(w+r)%len(raws)]
					k, err := s.Authenticate(ctx, raw)
					if err != nil {
						errs <- err
						continue
					}
					if !k.Has(account.PermSendSMS) {
						errs <- errors.New("authenticated key lost its permission")
					}
					if _, err := s.Authenticate(ctx, raw+"x"); !errors.Is(err, account.ErrUnauthorized) {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		keys, err := s.ListAPIKeys(ctx, acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.LastUsedAt == nil {
				t.Errorf("key %s: LastUsedAt not recorded", k.ID)
			}
		}
	})
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Admin keys of earlier versions reached every account. Migrating keeps
// the operator's (the first account's) installation-wide and narrows the
// others' to their own account, on both drivers.
func TestMigrateSplitsAdminKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ops, shop := mustAccount(t, s, "default"), mustAccount(t, s, "shop")
		legacy := map[string]struct{ account, perms, want string }{
			"first key": {ops.ID, "send_sms,receive_sms,send_otp,verify_otp,admin", "send_sms,receive_sms,send_otp,verify_otp,system_admin"},
			"ops admin": {ops.ID, "admin", "system_admin"},
			"tenant":    {shop.ID, "admin,send_sms", "account_admin,send_sms"},
			"tenant 2":  {shop.ID, "account_admin,admin", "account_admin"},
			"sender":    {shop.ID, "send_sms", "send_sms"},
			"new admin": {shop.ID, "account_admin", "account_admin"},
		}
		ids := map[string]string{}
		for name, k := range legacy {
			_, key, err := s.CreateAPIKey(ctx, k.account, name, []string{account.PermSendSMS})
			if err != nil {
				t.Fatal(err)
			}
			// Written as an earlier version stored it.
			if err := s.DB().Exec("UPDATE api_keys SET permissions = ? WHERE id = ?", k.perms, key.ID).Error; err != nil {
				t.Fatal(err)
			}
			ids[name] = key.ID
		}
		for range 2 { // the second migration finds nothing left to split
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for name, k := range legacy {
			got, err := s.APIKeyByID(ctx, ids[name])
			if err != nil {
				t.Fatal(err)
			}
			if got.Permissions != k.want {
				t.Errorf("%s: permissions %q after migrating, want %q", name, got.Permissions, k.want)
			}
		}
	})
}
