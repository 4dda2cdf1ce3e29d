package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/seal"
)

// SealingKey records that values in this database were sealed with the
// key of this id (never the key itself), so that a server given other keys
// refuses to start instead of writing rows its peers cannot read, or
// failing to read theirs.
type SealingKey struct {
	ID        string    `gorm:"primaryKey;size:16"`
	CreatedAt time.Time `gorm:"not null"`
}

// MissingKeyError means the database holds values sealed with keys the
// server was not given.
type MissingKeyError struct {
	Missing []string
	Have    []string
}

func (e *MissingKeyError) Error() string {
	return fmt.Sprintf("this database holds message texts or webhook secrets sealed with key %s, which this server does not have (its keys: %s). "+
		"Every server sharing the database needs the same keys: set SMSROUTER_SECRET_KEY (or the secrets block's key_file) to the keys the other servers use, "+
		"newest first; after a rotation keep the old key listed until `smsrouter secrets reseal` has run",
		strings.Join(e.Missing, ", "), strings.Join(e.Have, ", "))
}

// checkKeys records the ring's newest key as in use and refuses a ring
// that lacks a key the database records.
func (s *Store) checkKeys(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&SealingKey{ID: s.ring.Newest(), CreatedAt: s.now()}).Error; err != nil {
		return fmt.Errorf("record the secret key in use: %w", err)
	}
	var ids []string
	if err := db.Model(&SealingKey{}).Order("created_at, id").Pluck("id", &ids).Error; err != nil {
		return fmt.Errorf("read the secret keys in use: %w", err)
	}
	var missing []string
	for _, id := range ids {
		if !s.ring.Has(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return &MissingKeyError{Missing: missing, Have: s.ring.IDs()}
	}
	return nil
}

// startSealing checks the keys against the database and seals the webhook
// secrets left in the clear, when the store has keys.
func (s *Store) startSealing(ctx context.Context) error {
	if s.ring == nil {
		return nil
	}
	if err := s.checkKeys(ctx); err != nil {
		return err
	}
	n, err := s.sealWebhookSecrets(ctx)
	if err != nil {
		return fmt.Errorf("seal webhook secrets stored in the clear: %w", err)
	}
	if n > 0 {
		s.log.Info("sealed webhook secrets with the secret key", "secrets", n, "key_id", s.ring.Newest())
	}
	return nil
}

// secretRecord binds an account's sealed webhook secret to its row.
func secretRecord(accountID string) string { return "webhooks.secret:" + accountID }

// sealSecret is the stored form of an account's webhook secret.
func (s *Store) sealSecret(accountID, secret string) string {
	if s.ring == nil || secret == "" {
		return secret
	}
	return s.ring.Seal(secret, secretRecord(accountID))
}

// openSecret returns a stored webhook secret in the clear; secrets stored
// before sealing existed are returned as they are.
func (s *Store) openSecret(accountID, stored string) (string, error) {
	if !seal.IsSealed(stored) {
		return stored, nil
	}
	if s.ring == nil {
		return "", fmt.Errorf("webhook secret of account %s: it is sealed and this server has no secret key", accountID)
	}
	// Every delivery leaving the store needs its secret: opened once per
	// stored value, not per delivery (an account has one secret at a
	// time, so the cache holds about one entry per account).
	key := accountID + "\x00" + stored
	if v, ok := s.secrets.Load(key); ok {
		return v.(string), nil
	}
	v, err := s.ring.Open(stored, secretRecord(accountID))
	if err != nil {
		return "", fmt.Errorf("webhook secret of account %s: %w", accountID, err)
	}
	s.secrets.Store(key, v)
	return v, nil
}

// openClaimed opens the secrets of deliveries leaving the store. One that
// cannot be opened is logged and left without a secret: the deliverer
// then gives it up rather than send it unsigned.
func (s *Store) openClaimed(cs []outbox.Delivery) {
	for i := range cs {
		c := &cs[i]
		v, err := s.openSecret(c.AccountID, c.Secret)
		if err != nil {
			s.log.Error("a webhook secret cannot be decrypted; the delivery cannot be signed", "event", c.EventID, "error", err)
		}
		c.Secret = v
	}
}

// sealWebhookSecrets seals the webhook secrets stored in the clear (by
// versions before sealing) or with a key other than the newest, each row
// only if it is unchanged meanwhile. It runs at every start: the table has
// a row per account.
func (s *Store) sealWebhookSecrets(ctx context.Context) (int, error) {
	var hooks []Webhook
	db := s.db.WithContext(ctx)
	if err := db.Select("account_id", "secret").Find(&hooks).Error; err != nil {
		return 0, fmt.Errorf("read webhook secrets: %w", err)
	}
	n := 0
	for _, h := range hooks {
		if id, ok := seal.KeyID(h.Secret); h.Secret == "" || (ok && id == s.ring.Newest()) {
			continue
		}
		plain, err := s.openSecret(h.AccountID, h.Secret)
		if err != nil {
			return n, err
		}
		res := db.Model(&Webhook{}).Where("account_id = ? AND secret = ?", h.AccountID, h.Secret).
			Update("secret", s.sealSecret(h.AccountID, plain))
		if res.Error != nil {
			return n, fmt.Errorf("seal the webhook secret of account %s: %w", h.AccountID, res.Error)
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// Resealed counts what Reseal sealed again with the newest key.
type Resealed struct {
	WebhookSecrets int
	MessageTexts   int64
	// Retired are the ids of the keys nothing in the database is sealed
	// with any more, which may now be removed from the configuration.
	Retired []string
}

// resealChunk is how many messages one Reseal transaction rewrites.
const resealChunk = 500

// Reseal seals again with the newest key every stored value sealed with an
// older one or stored in the clear (by versions before sealing), so that
// the older keys can be retired; it
// then forgets those keys in the database's record of keys in use. It
// walks the messages table once in id order, in short transactions; new
// values are sealed with the newest key meanwhile, provided every server
// was given it first.
func (s *Store) Reseal(ctx context.Context) (Resealed, error) {
	var out Resealed
	if s.ring == nil {
		return out, errors.New("reseal: this server has no secret key")
	}
	n, err := s.sealWebhookSecrets(ctx)
	out.WebhookSecrets = n
	if err != nil {
		return out, fmt.Errorf("reseal: %w", err)
	}
	newest := "sealed:1:" + s.ring.Newest() + ":"
	after := ""
	for {
		var rows []Message
		err := s.db.WithContext(ctx).Select("id", "text", "sealed_text").Where("id > ?", after).
			Order("id").Limit(resealChunk).Find(&rows).Error
		if err != nil {
			return out, fmt.Errorf("reseal: read messages after %q: %w", after, err)
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
		k, err := s.resealMessages(ctx, rows, newest)
		out.MessageTexts += k
		if err != nil {
			return out, fmt.Errorf("reseal: %w", err)
		}
	}
	retired, err := s.retireKeys(ctx)
	out.Retired = retired
	return out, err
}

// resealMessages rewrites the texts of rows sealed with an older key; a
// row changed since it was read (its text dropped, say) is left alone.
func (s *Store) resealMessages(ctx context.Context, rows []Message, newest string) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, m := range rows {
			up := map[string]any{}
			for col, v := range map[string]string{"text": m.Text, "sealed_text": deref(m.SealedText)} {
				if v == "" || strings.HasPrefix(v, newest) {
					continue
				}
				// A text in the clear was written before sealing existed
				// (or masked, which sealing hides further): sealed too.
				plain := v
				if seal.IsSealed(v) {
					var err error
					if plain, err = s.ring.Open(v, textRecord(m.ID)); err != nil {
						return fmt.Errorf("message %s: %w", m.ID, err)
					}
				}
				up[col] = s.ring.Seal(plain, textRecord(m.ID))
			}
			if len(up) == 0 {
				continue
			}
			q := tx.Model(&Message{}).Where("id = ? AND text = ?", m.ID, m.Text)
			if m.SealedText != nil {
				q = q.Where("sealed_text = ?", *m.SealedText)
			}
			res := q.Updates(up)
			if res.Error != nil {
				return fmt.Errorf("message %s: %w", m.ID, res.Error)
			}
			n += res.RowsAffected
		}
		return nil
	})
	return n, err
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// retireKeys forgets, in the record of keys in use, every key but the
// newest, and returns their ids.
func (s *Store) retireKeys(ctx context.Context) ([]string, error) {
	var ids []string
	db := s.db.WithContext(ctx)
	if err := db.Model(&SealingKey{}).Where("id <> ?", s.ring.Newest()).Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("reseal: read the keys in use: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := db.Where("id IN ?", ids).Delete(&SealingKey{}).Error; err != nil {
		return nil, fmt.Errorf("reseal: forget the retired keys: %w", err)
	}
	slices.Sort(ids)
	return ids, nil
}
