package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/seal"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// rawColumns reads one row's columns with raw SQL, as a database dump
// would show them.
func rawColumns(t *testing.T, s *store.Store, q string, args ...any) map[string]any {
	t.Helper()
	row := map[string]any{}
	if err := s.DB().Raw(q, args...).Take(&row).Error; err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return row
}

func rawText(t *testing.T, s *store.Store, id string) (text string, sealed *string) {
	t.Helper()
	var r struct {
		Text       string
		SealedText *string
	}
	if err := s.DB().Raw("SELECT text, sealed_text FROM messages WHERE id = ?", id).Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r.Text, r.SealedText
}

// TestMessageTextsAtRest: whatever the account's policy, the provider is
// given the full text and the database never holds it in the clear; once
// the message is final, the stored text is what the policy keeps, and the
// full text's only copy goes with the next prune.
func TestMessageTextsAtRest(t *testing.T) {
	const text = "Your PIN is 4711, valid until 18:00"
	for _, tc := range []struct {
		name     string
		policy   account.MessageBodies
		kind     message.Kind
		mask     []string
		inFlight string // the text column while in flight; "sealed" for the sealed full text
		final    string // the text MessageText gives once final
	}{
		{name: "full", policy: account.BodiesFull, kind: "sms", inFlight: "sealed", final: text},
		{name: "masked", policy: account.BodiesMasked, kind: "sms", inFlight: "Your PIN is ****, valid until **:**", final: "Your PIN is ****, valid until **:**"},
		{name: "none", policy: account.BodiesNone, kind: "sms", inFlight: "", final: ""},
		{name: "a code under full", policy: account.BodiesFull, kind: "otp", mask: []string{"4711"},
			inFlight: "Your PIN is ****, valid until 18:00", final: "Your PIN is ****, valid until 18:00"},
		{name: "a code without a mask under full", policy: account.BodiesFull, kind: "otp",
			inFlight: "Your PIN is ****, valid until **:**", final: "Your PIN is ****, valid until **:**"},
		{name: "a code under none", policy: account.BodiesNone, kind: "otp", mask: []string{"4711"}, inFlight: "", final: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				ctx := context.Background()
				acc, err := s.CreateAccount(ctx, "bodies")
				if err != nil {
					t.Fatal(err)
				}
				if tc.policy != account.BodiesFull {
					if a, err := s.SetMessageBodies(ctx, acc.ID, tc.policy); err != nil || a.MessageBodies != tc.policy {
						t.Fatalf("SetMessageBodies = %+v, %v", a, err)
					}
				}
				m := newMessages(1, []string{"a"}, msgStart)[0]
				m.AccountID, m.Text, m.Kind, m.Mask = acc.ID, text, tc.kind, tc.mask
				insert(t, s, m)
				if m.Text != text || m.SealedText != nil {
					t.Fatalf("after the insert the caller's message holds %q, %v; want its plaintext back", m.Text, m.SealedText)
				}
				stored, sealed := rawText(t, s, m.ID)
				for _, v := range []string{stored, deref(sealed)} {
					if strings.Contains(v, "4711") {
						t.Fatalf("stored in flight: text %q, sealed_text %q; the PIN is in the clear", stored, deref(sealed))
					}
				}
				switch {
				case tc.inFlight == "sealed":
					if !seal.IsSealed(stored) || sealed != nil {
						t.Errorf("stored text %q, sealed_text %v; want the text sealed in its column", stored, sealed)
					}
				case stored != tc.inFlight || sealed == nil || !seal.IsSealed(*sealed):
					t.Errorf("stored text %q, sealed_text %v; want %q and the full text sealed aside", stored, sealed, tc.inFlight)
				}

				got := claim(t, s, msgStart, 10, time.Minute)
				if len(got) != 1 || got[0].Text != text {
					t.Fatalf("claimed %+v; want the message with its full text for the provider", got)
				}
				record(t, s, message.Attempt{MessageID: m.ID, Provider: "a", Status: message.Sent, ProviderMessageID: "p-" + tc.name, At: msgStart})
				storeEvents(t, s, "a", statusEvent("dlr-"+tc.name, "p-"+tc.name, message.Delivered, msgStart))
				p, err := s.Prune(ctx, retention.Policy{})
				if err != nil {
					t.Fatal(err)
				}
				stored, sealed = rawText(t, s, m.ID)
				if sealed != nil {
					t.Errorf("sealed_text %q kept after the message was final and pruned (pruned %+v)", *sealed, p)
				}
				final, err := s.MessageText(getMessage2(t, s, acc.ID, m.ID))
				if err != nil || final != tc.final {
					t.Errorf("MessageText once final = %q, %v; want %q", final, err, tc.final)
				}
				if strings.Contains(stored, "4711") {
					t.Errorf("stored once final: %q", stored)
				}
			})
		})
	}
}

func getMessage2(t *testing.T, s *store.Store, account, id string) store.Message {
	t.Helper()
	m, err := s.GetMessage(context.Background(), account, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestSetMessageBodiesRefusesUnknownPolicies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc, err := s.CreateAccount(ctx, "bodies")
		if err != nil {
			t.Fatal(err)
		}
		if acc.MessageBodies != "full" {
			t.Errorf("a new account keeps %q, want full", acc.MessageBodies)
		}
		if _, err := s.SetMessageBodies(ctx, acc.ID, "hashed"); err == nil || !strings.Contains(err.Error(), `"masked"`) {
			t.Errorf("SetMessageBodies(hashed) = %v, want an error naming the choices", err)
		}
		if _, err := s.SetMessageBodies(ctx, "acc_missing", account.BodiesNone); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetMessageBodies of an unknown account = %v, want ErrNotFound", err)
		}
	})
}

// A text that does not open (a damaged row) fails its message with a
// clear code instead of sending something else or blocking the queue.
func TestUnreadableTextFailsItsMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		msgs := newMessages(2, []string{"a"}, msgStart)
		insert(t, s, msgs...)
		stored, _ := rawText(t, s, msgs[0].ID)
		if err := s.DB().Exec("UPDATE messages SET text = ? WHERE id = ?", stored[:len(stored)-4]+"AAAA", msgs[0].ID).Error; err != nil {
			t.Fatal(err)
		}
		got := claim(t, s, msgStart, 10, time.Minute)
		if len(got) != 1 || got[0].ID != msgs[1].ID || got[0].Text != msgs[1].Text {
			t.Fatalf("claimed %+v, want only the readable message", got)
		}
		m := getMessage(t, s, msgs[0].ID)
		if m.Status != message.Failed || m.ErrorCode != store.UnreadableTextCode || !strings.Contains(m.ErrorMessage, "does not authenticate") {
			t.Errorf("the damaged message is %s %s %q, want failed %s with the reason", m.Status, m.ErrorCode, m.ErrorMessage, store.UnreadableTextCode)
		}
	})
}

// TestWebhookSecretSealedAtRest: the column holds the secret sealed, and
// every way out of the store (GetWebhook, claims, deliveries handed over as
// written) gives the secret the account was shown, so signatures do not
// change.
func TestWebhookSecretSealedAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		secret := setWebhook(t, s, msgAccount, "https://app.example/hooks")
		row := rawColumns(t, s, "SELECT secret FROM webhooks WHERE account_id = ?", msgAccount)
		stored, _ := row["secret"].(string)
		if strings.Contains(stored, strings.TrimPrefix(secret, "whsec_")) || !seal.IsSealed(stored) {
			t.Fatalf("stored secret %q, want it sealed", stored)
		}
		if w, err := s.GetWebhook(ctx, msgAccount); err != nil || w.Secret != secret {
			t.Errorf("GetWebhook secret %q, %v; want the one shown", w.Secret, err)
		}
		h := &takeAll{}
		s.HandOffWebhooks(h)
		sentMessage(t, s, "a", "p0")
		s.HandOffWebhooks(nil)
		storeEvents(t, s, "a", statusEvent("d0", "p0", message.Delivered, msgStart))
		got := h.taken()
		if len(got) != 1 || got[0].Secret != secret {
			t.Fatalf("handed over %+v, want message.sent with the secret shown", got)
		}
		// Given back, message.sent is claimed (message.delivered waits
		// behind it).
		if err := s.ReleaseWebhooks(ctx, []uint64{got[0].Seq}); err != nil {
			t.Fatal(err)
		}
		claimed := claimWebhooks(t, s, time.Now().Add(time.Hour), 10)
		if len(claimed) != 1 || claimed[0].Secret != secret {
			t.Fatalf("claimed %+v, want message.sent with the secret shown", claimed)
		}
		body := []byte(claimed[0].Payload)
		if webhook.Sign(claimed[0].Secret, 1700000000, body) != webhook.Sign(secret, 1700000000, body) {
			t.Error("the signature changed")
		}
		_, rotated, err := s.SetWebhook(ctx, msgAccount, "https://app.example/hooks", true)
		if err != nil || rotated == secret {
			t.Fatalf("rotate: %q, %v", rotated, err)
		}
		if w, err := s.GetWebhook(ctx, msgAccount); err != nil || w.Secret != rotated {
			t.Errorf("GetWebhook after rotation %q, %v; want %q", w.Secret, err, rotated)
		}
	})
}

// takeAll is a deliverer with room for everything.
type takeAll struct {
	mu sync.Mutex
	cs []outbox.Delivery
}

func (h *takeAll) Room() int                   { return 1000 }
func (h *takeAll) Holds(string, []uint64) bool { return false }
func (h *takeAll) Knows(string, message.Status) ([]uint64, bool) {
	return nil, false
}
func (h *takeAll) Lease() time.Duration { return time.Minute }
func (h *takeAll) Receive(r outbox.Handed) {
	h.mu.Lock()
	h.cs = append(h.cs, r.Deliveries...)
	h.mu.Unlock()
}
func (h *takeAll) taken() []outbox.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]outbox.Delivery(nil), h.cs...)
}

// reopen opens a second store on the database of dsn, as an upgraded or
// another server would.
func reopen(t *testing.T, driver, dsn string, keys *seal.Ring) (*store.Store, error) {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{Driver: driver, DSN: dsn, Logger: storetest.Logger(t), Keys: keys})
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func dsnFor(t *testing.T, driver string) string {
	if driver == store.DriverSQLite {
		return filepath.Join(t.TempDir(), "smsrouter.db")
	}
	return storetest.PostgresDSN(t)
}

func ring(t *testing.T, keys ...seal.Key) *seal.Ring {
	t.Helper()
	r, err := seal.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestUpgradeSealsClearWebhookSecrets: a database written before sealing
// (secrets in the clear, in the narrower column of that version) is
// sealed when a server with a key opens it, and its deliveries are signed
// exactly as before.
func TestUpgradeSealsClearWebhookSecrets(t *testing.T) {
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			dsn := dsnFor(t, driver)
			old, err := reopen(t, driver, dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			secret := setWebhook(t, old, msgAccount, "https://app.example/hooks")
			sentMessage(t, old, "a", "p0")
			waiting := newMessages(1, []string{"a"}, msgStart.Add(time.Hour))[0]
			insert(t, old, waiting)
			if stored, _ := rawText(t, old, waiting.ID); stored != waiting.Text {
				t.Fatalf("the old version's message holds %q, want its text in the clear", stored)
			}
			if driver == store.DriverPostgres {
				if err := old.DB().Exec("ALTER TABLE webhooks ALTER COLUMN secret TYPE varchar(128)").Error; err != nil {
					t.Fatal(err)
				}
			}
			row := rawColumns(t, old, "SELECT secret FROM webhooks WHERE account_id = ?", msgAccount)
			if row["secret"] != secret {
				t.Fatalf("the old version's row holds %v, want the secret in the clear", row["secret"])
			}
			old.Close()

			k, _ := seal.GenerateKey()
			s, err := reopen(t, driver, dsn, ring(t, k))
			if err != nil {
				t.Fatal(err)
			}
			row = rawColumns(t, s, "SELECT secret FROM webhooks WHERE account_id = ?", msgAccount)
			if stored, _ := row["secret"].(string); !seal.IsSealed(stored) || strings.Contains(stored, strings.TrimPrefix(secret, "whsec_")) {
				t.Fatalf("after the upgrade the row holds %v, want the secret sealed", row["secret"])
			}
			claimed := claimWebhooks(t, s, time.Now().Add(time.Hour), 10)
			if len(claimed) != 1 || claimed[0].Secret != secret {
				t.Fatalf("claimed %+v, want the pending message.sent with the old secret", claimed)
			}
			body := []byte(claimed[0].Payload)
			if webhook.Sign(claimed[0].Secret, 1700000000, body) != webhook.Sign(secret, 1700000000, body) {
				t.Error("the signature changed with the upgrade")
			}
			// A text stored in the clear is still sent as it is, and
			// Reseal seals it.
			r, err := s.Reseal(ctx)
			if err != nil || r.MessageTexts != 2 {
				t.Fatalf("Reseal = %+v, %v; want both messages' texts sealed", r, err)
			}
			if stored, _ := rawText(t, s, waiting.ID); !seal.IsSealed(stored) {
				t.Errorf("after Reseal the message holds %q, want it sealed", stored)
			}
			if got := claim(t, s, msgStart.Add(time.Hour), 10, time.Minute); len(got) != 1 || got[0].Text != waiting.Text {
				t.Errorf("claimed %+v, want the waiting message with its text", got)
			}
			// Another account's secret set afterwards fits the column.
			if _, _, err := s.SetWebhook(ctx, "acc_other", "https://other.example/hooks", false); err != nil {
				t.Fatalf("SetWebhook after the upgrade: %v", err)
			}
		})
	}
}

// TestKeysAgainstTheDatabase: a server whose keys lack one the database
// was written with refuses to start, naming the key; one given the old key
// after a new one opens everything, and once Reseal has run the old key
// can go.
func TestKeysAgainstTheDatabase(t *testing.T) {
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			dsn := dsnFor(t, driver)
			oldKey, _ := seal.GenerateKey()
			newKey, _ := seal.GenerateKey()
			first, err := reopen(t, driver, dsn, ring(t, oldKey))
			if err != nil {
				t.Fatal(err)
			}
			secret := setWebhook(t, first, msgAccount, "https://app.example/hooks")
			msgs := newMessages(2, []string{"a"}, msgStart)
			msgs[1].Kind, msgs[1].Mask = "otp", []string{"1"}
			insert(t, first, msgs...)
			first.Close()

			_, err = reopen(t, driver, dsn, ring(t, newKey))
			var missing *store.MissingKeyError
			if !errors.As(err, &missing) || !strings.Contains(err.Error(), oldKey.ID()) || !strings.Contains(err.Error(), "SMSROUTER_SECRET_KEY") {
				t.Fatalf("opening with another key: %v; want a refusal naming key %s and the setting", err, oldKey.ID())
			}

			rotated, err := reopen(t, driver, dsn, ring(t, newKey, oldKey))
			if err != nil {
				t.Fatal(err)
			}
			got := claim(t, rotated, msgStart, 10, time.Minute)
			if len(got) != 2 || got[0].Text == "" || got[1].Text == "" {
				t.Fatalf("claimed after the rotation %+v, want both texts", got)
			}
			r, err := rotated.Reseal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The webhook secret was sealed again when the server started.
			if r.WebhookSecrets != 0 || r.MessageTexts != 2 || len(r.Retired) != 1 || r.Retired[0] != oldKey.ID() {
				t.Errorf("Reseal = %+v, want 2 messages and key %s retired", r, oldKey.ID())
			}
			rotated.Close()

			s, err := reopen(t, driver, dsn, ring(t, newKey))
			if err != nil {
				t.Fatalf("opening with the new key alone after Reseal: %v", err)
			}
			if w, err := s.GetWebhook(ctx, msgAccount); err != nil || w.Secret != secret {
				t.Errorf("GetWebhook with the new key alone = %q, %v", w.Secret, err)
			}
			for _, m := range msgs {
				stored, sealed := rawText(t, s, m.ID)
				for _, v := range []string{stored, deref(sealed)} {
					if id, ok := seal.KeyID(v); ok && id != newKey.ID() {
						t.Errorf("message %s still sealed with key %s", m.ID, id)
					}
				}
			}
		})
	}
}
