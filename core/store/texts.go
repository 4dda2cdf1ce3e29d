package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/seal"
)

// bodiesTTL is how long a store trusts the message_bodies policy it read
// for an account: a change made on another node applies here after at
// most this long.
const bodiesTTL = 30 * time.Second

type bodiesEntry struct {
	policy account.MessageBodies
	until  time.Time
}

// SetMessageBodies sets what the account's messages keep of their text
// from now on; messages already final keep what they kept. ErrNotFound
// when there is no such account.
func (s *Store) SetMessageBodies(ctx context.Context, accountID string, p account.MessageBodies) (account.Account, error) {
	if _, err := account.ParseMessageBodies(string(p)); err != nil {
		return account.Account{}, err
	}
	res := s.db.WithContext(ctx).Model(&Account{}).Where("id = ?", accountID).Update("message_bodies", string(p))
	if res.Error != nil {
		return account.Account{}, fmt.Errorf("set message_bodies of account %s: %w", accountID, res.Error)
	}
	if res.RowsAffected == 0 {
		return account.Account{}, fmt.Errorf("set message_bodies of account %s: %w", accountID, ErrNotFound)
	}
	s.bodies.Delete(accountID)
	return s.AccountByID(ctx, accountID)
}

// bodiesOf returns the message_bodies policy of each of the messages'
// accounts, reading those not known (or known for too long) in one query.
func (s *Store) bodiesOf(tx *gorm.DB, msgs []*Message) (map[string]account.MessageBodies, error) {
	now := time.Now()
	out := make(map[string]account.MessageBodies, 1)
	var read []string
	for _, m := range msgs {
		if _, ok := out[m.AccountID]; ok {
			continue
		}
		if e, ok := s.bodies.Load(m.AccountID); ok && now.Before(e.(bodiesEntry).until) {
			out[m.AccountID] = e.(bodiesEntry).policy
			continue
		}
		out[m.AccountID] = account.BodiesFull
		read = append(read, m.AccountID)
	}
	if len(read) == 0 {
		return out, nil
	}
	var rows []Account
	if err := tx.Select("id", "message_bodies").Where("id IN ?", read).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read the message_bodies of %d accounts: %w", len(read), err)
	}
	for _, a := range rows {
		p := account.MessageBodies(a.MessageBodies)
		if _, err := account.ParseMessageBodies(a.MessageBodies); err != nil {
			p = account.BodiesFull
		}
		out[a.ID] = p
		s.bodies.Store(a.ID, bodiesEntry{policy: p, until: now.Add(bodiesTTL)})
	}
	return out, nil
}

// textRecord binds a message's sealed text to its row.
func textRecord(id string) string { return "messages.text:" + id }

// sealTexts turns the messages' texts into what is stored: the text kept
// for good (sealed in full, masked, or nothing) and, when that is not the
// full text, the full text sealed for the dispatcher in SealedText. The
// returned function puts the plaintexts back, for callers that use the
// messages after the insert (or retry it).
func (s *Store) sealTexts(tx *gorm.DB, msgs []*Message) (restore func(), err error) {
	policies, err := s.bodiesOf(tx, msgs)
	if err != nil {
		return nil, err
	}
	plain := make([]string, len(msgs))
	for i, m := range msgs {
		plain[i] = m.Text
		kept, full := keptText(m, policies[m.AccountID])
		sealed := m.Text
		if s.ring != nil {
			sealed = s.ring.Seal(m.Text, textRecord(m.ID))
		}
		if full {
			m.Text, m.SealedText = sealed, nil
		} else {
			m.Text, m.SealedText = kept, &sealed
		}
	}
	return func() {
		for i, m := range msgs {
			m.Text, m.SealedText = plain[i], nil
		}
	}, nil
}

// keptText is what a message keeps of its text for good under policy p;
// full is true when that is the whole text. A one-time code never stays:
// its Mask parts (or, without them, its digits) are masked whatever the
// policy.
func keptText(m *Message, p account.MessageBodies) (kept string, full bool) {
	switch {
	case p == account.BodiesNone:
		return "", false
	case len(m.Mask) > 0:
		kept = m.Text
		for _, part := range m.Mask {
			if part != "" {
				kept = strings.ReplaceAll(kept, part, strings.Repeat("*", len([]rune(part))))
			}
		}
		if p == account.BodiesMasked {
			kept = maskDigits(kept)
		}
		return kept, false
	case p == account.BodiesMasked || m.Kind == message.KindOTP:
		return maskDigits(m.Text), false
	}
	return "", true
}

func maskDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return '*'
		}
		return r
	}, s)
}

// revealTexts gives claimed messages the plaintext the provider is to
// send. It returns the ids of messages whose text cannot be opened (a key
// missing from the ring, a damaged row), with why, so that the caller
// fails them instead of sending something else.
func (s *Store) revealTexts(msgs []Message) map[string]error {
	var bad map[string]error
	for i := range msgs {
		m := &msgs[i]
		v := m.Text
		if m.SealedText != nil {
			v = *m.SealedText
		}
		m.SealedText = nil
		if !seal.IsSealed(v) {
			m.Text = v // written in the clear, before sealing existed
			continue
		}
		var err error
		if s.ring == nil {
			err = errors.New("the text is sealed and this server has no secret key")
		} else {
			m.Text, err = s.ring.Open(v, textRecord(m.ID))
		}
		if err != nil {
			if bad == nil {
				bad = map[string]error{}
			}
			m.Text = ""
			bad[m.ID] = err
		}
	}
	return bad
}

// failUnreadable fails claimed messages whose text could not be opened,
// removing them from msgs: sending them is impossible, and retrying would
// fail the same way.
func (s *Store) failUnreadable(ctx context.Context, msgs []Message, bad map[string]error, now time.Time) ([]Message, error) {
	if len(bad) == 0 {
		return msgs, nil
	}
	results := make([]message.Attempt, 0, len(bad))
	kept := msgs[:0]
	for _, m := range msgs {
		err, ok := bad[m.ID]
		if !ok {
			kept = append(kept, m)
			continue
		}
		s.log.Error("a message's text cannot be decrypted; failing it", "message_id", m.ID, "error", err)
		results = append(results, message.Attempt{MessageID: m.ID, Status: message.Failed, Candidate: m.Candidate,
			Code: UnreadableTextCode, Reason: "the stored text cannot be decrypted: " + err.Error(), At: now})
	}
	if err := s.RecordAttempts(ctx, results); err != nil {
		return nil, err
	}
	return kept, nil
}

// UnreadableTextCode is the error code of a message failed because its
// stored text could not be decrypted.
const UnreadableTextCode = "TEXT_UNREADABLE"

// MessageText returns the text a message read from the store keeps, in
// the clear: its full text under the full policy, else the masked text or
// "" its account's policy keeps.
func (s *Store) MessageText(m Message) (string, error) {
	if !seal.IsSealed(m.Text) {
		return m.Text, nil
	}
	if s.ring == nil {
		return "", fmt.Errorf("text of message %s: it is sealed and this server has no secret key", m.ID)
	}
	t, err := s.ring.Open(m.Text, textRecord(m.ID))
	if err != nil {
		return "", fmt.Errorf("text of message %s: %w", m.ID, err)
	}
	return t, nil
}

// noLongerSent lists the statuses after which a message is never sent
// again: its full text has served its purpose.
var noLongerSent = []string{string(message.Delivered), string(message.Failed), string(message.Expired),
	string(message.Rejected), string(message.Undeliverable), string(message.Unknown)}

// forgetSealedTexts drops the sealed full text of messages that keep less
// (one-time codes, accounts with masked or none) once they are never to be
// sent again, in chunks; it returns how many it dropped. The partial index
// idx_messages_sealed holds only messages with a sealed text, so this
// reads no more than those.
func (s *Store) forgetSealedTexts(ctx context.Context) (int64, error) {
	where := "sealed_text IS NOT NULL AND status IN ('" + strings.Join(noLongerSent, "','") + "')"
	q := fmt.Sprintf("UPDATE messages SET sealed_text = NULL WHERE id IN (SELECT id FROM messages WHERE %s LIMIT %d)", where, pruneChunk)
	if s.driver == DriverPostgres {
		q = fmt.Sprintf("UPDATE messages SET sealed_text = NULL WHERE id = ANY(ARRAY(SELECT id FROM messages WHERE %s LIMIT %d FOR UPDATE SKIP LOCKED))", where, pruneChunk)
	}
	var total int64
	for {
		start := time.Now()
		res := s.db.WithContext(ctx).Exec(q)
		if res.Error != nil {
			return total, res.Error
		}
		total += res.RowsAffected
		if res.RowsAffected < pruneChunk {
			return total, nil
		}
		if err := s.writerTurn(ctx, time.Since(start)); err != nil {
			return total, err
		}
	}
}
