package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
)

// IdempotencyRecord is the row of an Idempotency-Key's answer
// (intake.Idempotency), replayed when the same key comes again.
type IdempotencyRecord struct {
	AccountID string `gorm:"primaryKey;size:40"`
	Key       string `gorm:"primaryKey;size:191"`
	// RequestHash identifies the request (method, path, body), so that the
	// key reused for a different request is told apart from a retry.
	RequestHash string    `gorm:"size:64;not null"`
	StatusCode  int       `gorm:"not null"`
	Body        string    `gorm:"not null"`
	CreatedAt   time.Time `gorm:"not null"`
	ExpiresAt   time.Time `gorm:"not null;index"`
}

// DuplicateClaim marks a message (account, recipient, text) as sent until
// Until (Unix milliseconds), to refuse accidental repeats.
type DuplicateClaim struct {
	AccountID   string `gorm:"primaryKey;size:40"`
	Fingerprint string `gorm:"primaryKey;size:64"`
	MessageID   string `gorm:"size:40;not null"`
	Until       int64  `gorm:"not null;index"`
}

// Accept stores the messages with their duplicate claims and idempotency
// record in one transaction.
func (s *Store) Accept(ctx context.Context, a intake.Acceptance) error {
	refused, err := s.AcceptMany(ctx, []intake.Acceptance{a})
	if err != nil {
		return err
	}
	return refused[0]
}

// AcceptMany stores several independent acceptances in one transaction,
// so that concurrent requests share one commit. Each acceptance is still
// all or nothing on its own: refused[i] is acceptance i's *message.DuplicateError,
// *intake.ReplayError or *account.InsufficientCreditError (nothing of it stored), or nil
// (all of it stored). A non-nil err means the transaction failed and none
// of them was stored.
//
// Messages with a Charged amount are paid for in the same transaction,
// with per-batch statements only: one read of the batch's accounts,
// acceptances admitted in batch order while the balance (down to minus the
// credit limit, if the account has one) covers them, one balance update
// per account (in id order, so batches cannot deadlock) and one multi-row
// ledger insert. The read takes no lock, so that batches of one busy
// account overlap; should a concurrent batch take the credit meanwhile,
// the batch is decided again with the accounts locked (see
// chargeAcceptances).
func (s *Store) AcceptMany(ctx context.Context, as []intake.Acceptance) (refused []error, err error) {
	return s.acceptRows(ctx, as, messageRows(as))
}

// messageRows maps the acceptances' messages to rows, rows[i] being
// acceptance i's, with one allocation of rows for the whole batch.
func messageRows(as []intake.Acceptance) [][]*Message {
	n := 0
	for i := range as {
		n += len(as[i].Messages)
	}
	rows, ptrs := make([]Message, n), make([]*Message, n)
	out := make([][]*Message, len(as))
	k := 0
	for i := range as {
		start := k
		for _, m := range as[i].Messages {
			rows[k] = newMessageRow(m)
			ptrs[k] = &rows[k]
			k++
		}
		out[i] = ptrs[start:k:k]
	}
	return out
}

// newMessageRow is the row of a newly accepted message: queued, at
// candidate 0 of its plan.
func newMessageRow(m *intake.Message) Message {
	return Message{ID: m.ID, AccountID: m.AccountID, Recipient: m.Recipient, Sender: m.Sender, Text: m.Text, Mask: m.Mask,
		Encoding: m.Encoding, Segments: m.Segments, Kind: m.Kind, Country: m.Country, Status: message.Queued,
		Route: m.Route, Plan: message.EncodePlan(m.Plan), NextAttemptAt: m.NextAttemptAt, ExpiresAt: m.ExpiresAt,
		CreatedAt: m.CreatedAt, UpdatedAt: m.CreatedAt, Charged: m.Charged, CallbackURL: m.CallbackURL, SendAt: m.SendAt,
		ErrorCode: heldCode(m), ErrorMessage: m.HoldReason, Tags: encodeTags(m.Tags), Why: m.Why}
}

// encodeTags is the stored form of a message's tags: a JSON object, or ""
// for none.
func encodeTags(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	b, _ := json.Marshal(tags) // a map of strings always marshals
	return string(b)
}

// decodeTags reads encodeTags' form; "" and anything unreadable are none.
func decodeTags(s string) map[string]string {
	if s == "" {
		return nil
	}
	var tags map[string]string
	_ = json.Unmarshal([]byte(s), &tags)
	return tags
}

// heldCode is the error code of a message its route holds, or "".
func heldCode(m *intake.Message) string {
	if m.HoldReason == "" {
		return ""
	}
	return message.CodeHeld
}

// acceptRows is AcceptMany with the acceptances' messages as rows
// (rows[i] are acceptance i's); the acceptances give the claims, the
// idempotency records and the charges.
func (s *Store) acceptRows(ctx context.Context, as []intake.Acceptance, rows [][]*Message) (refused []error, err error) {
	now := s.now()
	refused = make([]error, len(as))
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	try := func(lock bool) error {
		return s.transaction(ctx, func(tx *eventTx) error {
			return s.acceptInTx(tx, as, rows, n, refused, now, lock)
		})
	}
	// The first try decides credit on balances read without locks; when a
	// concurrent batch took the credit meanwhile, the batch is decided
	// again under the accounts' locks.
	if err = try(false); errors.Is(err, errCreditRace) {
		s.log.Debug("a concurrent batch took the credit this batch counted on; deciding it again with the accounts locked", "requests", len(as))
		err = try(true)
	}
	if err != nil {
		return nil, fmt.Errorf("accept %d messages of %d requests: %w", n, len(as), err)
	}
	return refused, nil
}

// acceptInTx is one try of acceptRows in tx: claim, charge, insert. n is
// the number of rows, refused is filled afresh on each try.
func (s *Store) acceptInTx(tx *eventTx, as []intake.Acceptance, rows [][]*Message, n int, refused []error, now time.Time, lock bool) error {
	clear(refused)
	simple, isSimple := simpleAcceptances(as)
	if err := claimDuplicates(tx.DB, as, simple, refused, now); err != nil {
		return err
	}
	msgs := make([]*Message, 0, n)
	for i := range as {
		if refused[i] != nil {
			continue
		}
		if !isSimple[i] {
			refusal, err := claimAlone(tx, &as[i], now)
			if err != nil {
				return err
			}
			if refusal != nil {
				refused[i] = refusal
				continue
			}
		}
		msgs = append(msgs, rows[i]...)
	}
	// Credit is checked last, so that a message refused as a repeat
	// is never charged; the claims of one refused for credit are
	// released again.
	charged, err := s.chargeAcceptances(tx, as, refused, lock)
	if err != nil {
		return err
	}
	if charged {
		msgs = msgs[:0]
		for i := range as {
			if refused[i] == nil {
				msgs = append(msgs, rows[i]...)
			}
		}
	}
	if err := s.insertMessages(tx.DB, msgs); err != nil {
		return err
	}
	return s.writeCharges(tx, msgs, now)
}

// simpleAcceptances picks the common acceptance (one message, at most one
// duplicate claim, no idempotency key), which is claimed with one
// statement for the whole batch; the others are claimed one by one.
func simpleAcceptances(as []intake.Acceptance) (simple []int, isSimple []bool) {
	isSimple = make([]bool, len(as))
	for i := range as {
		if as[i].Idempotency == nil && len(as[i].Duplicates) == 1 {
			simple = append(simple, i)
			isSimple[i] = true
		}
	}
	return simple, isSimple
}

// claimAlone claims one acceptance's records on its own. refusal is the
// *message.DuplicateError or *intake.ReplayError that refuses it, with
// whatever it wrote undone; err is a failure of the transaction.
func claimAlone(tx *eventTx, a *intake.Acceptance, now time.Time) (refusal, err error) {
	// Only an acceptance that writes more than one claim can be
	// refused after writing something; a savepoint undoes that
	// part without touching the rest of the batch.
	partial := len(a.Duplicates) > 1 || (a.Idempotency != nil && len(a.Duplicates) > 0)
	if partial {
		if err := tx.SavePoint("acceptance").Error; err != nil {
			return nil, fmt.Errorf("savepoint: %w", err)
		}
	}
	err = claim(tx.DB, a, now)
	var de *message.DuplicateError
	var re *intake.ReplayError
	switch {
	case errors.As(err, &de) || errors.As(err, &re):
		if partial {
			if err := tx.RollbackTo("acceptance").Error; err != nil {
				return nil, fmt.Errorf("roll back a refused acceptance: %w", err)
			}
		}
		return err, nil
	case err != nil:
		return nil, err
	}
	return nil, nil
}

// claimRows caps the rows of one claiming statement (4 parameters each,
// well under both drivers' parameter limits).
const claimRows = 500

// dupRow is one acceptance's duplicate claim in claimDuplicates: i is the
// acceptance's index in the batch.
type dupRow struct {
	i int
	d DuplicateClaim
}

// dupKey names a duplicate window: account and fingerprint.
type dupKey = [2]string

// claimDuplicates claims the one duplicate fingerprint of each acceptance
// in idx with as few statements as possible, and sets refused[i] for those
// already claimed (by an earlier request or earlier in this batch).
func claimDuplicates(tx *gorm.DB, as []intake.Acceptance, idx []int, refused []error, now time.Time) error {
	if len(idx) == 0 {
		// No duplicate window (duplicate_window = "0s", or none of the
		// batch has one): no statement, rather than one that claims
		// nothing in every accept transaction.
		return nil
	}
	rows, first := firstClaims(as, idx, refused)
	claimed := map[dupKey]bool{}
	if tx.Dialector.Name() == DriverPostgres {
		if err := insertClaimsArrays(tx, rows, now, claimed); err != nil {
			return err
		}
	} else if err := insertClaimsValues(tx, rows, now, claimed); err != nil {
		return err
	}
	return refuseHeldClaims(tx, as, idx, rows, first, claimed, refused)
}

// firstClaims is the claims to write, each window once, in one order for
// every batch; a repeat within the batch is refused in favour of the
// first. first maps each window to the acceptance that claims it.
func firstClaims(as []intake.Acceptance, idx []int, refused []error) (rows []dupRow, first map[dupKey]int) {
	rows = make([]dupRow, 0, len(idx))
	first = map[dupKey]int{}
	for _, i := range idx {
		c := as[i].Duplicates[0]
		d := DuplicateClaim{AccountID: c.AccountID, Fingerprint: c.Fingerprint, MessageID: c.MessageID, Until: as[i].DuplicateUntil.UnixMilli()}
		k := dupKey{d.AccountID, d.Fingerprint}
		if j, ok := first[k]; ok {
			// A repeat within the batch: refused in favour of the first,
			// or of whoever holds the claim if the first is refused too.
			refused[i] = &message.DuplicateError{MessageID: as[j].Duplicates[0].MessageID}
			continue
		}
		first[k] = i
		rows = append(rows, dupRow{i, d})
	}
	// One order for every batch, so that concurrent batches lock claims in
	// the same order and cannot deadlock.
	slices.SortFunc(rows, func(a, b dupRow) int {
		return cmp.Or(cmp.Compare(a.d.AccountID, b.d.AccountID), cmp.Compare(a.d.Fingerprint, b.d.Fingerprint))
	})
	return rows, first
}

// insertClaimsArrays writes the claims on PostgreSQL with one statement
// and a parameter per column (arrays), not per value: see insertRows. It
// marks the windows it won in claimed.
func insertClaimsArrays(tx *gorm.DB, rows []dupRow, now time.Time, claimed map[dupKey]bool) error {
	accounts, prints, ids, untils := make([]string, len(rows)), make([]string, len(rows)), make([]string, len(rows)), make([]int64, len(rows))
	for k, r := range rows {
		accounts[k], prints[k], ids[k], untils[k] = r.d.AccountID, r.d.Fingerprint, r.d.MessageID, r.d.Until
	}
	got, err := tx.Statement.ConnPool.QueryContext(tx.Statement.Context, `INSERT INTO duplicate_claims (account_id, fingerprint, message_id, "until")
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (account_id, fingerprint) DO UPDATE SET message_id = excluded.message_id, "until" = excluded."until"
WHERE duplicate_claims."until" <= $5 RETURNING account_id, fingerprint`, accounts, prints, ids, untils, now.UnixMilli())
	if err != nil {
		return fmt.Errorf("claim duplicate windows: %w", err)
	}
	for got.Next() {
		var k dupKey
		if err := got.Scan(&k[0], &k[1]); err != nil {
			got.Close()
			return fmt.Errorf("claim duplicate windows: %w", err)
		}
		claimed[k] = true
	}
	got.Close()
	if err := got.Err(); err != nil {
		return fmt.Errorf("claim duplicate windows: %w", err)
	}
	return nil
}

// insertClaimsValues writes the claims with multi-row VALUES statements of
// at most claimRows rows, and marks the windows it won in claimed.
func insertClaimsValues(tx *gorm.DB, rows []dupRow, now time.Time, claimed map[dupKey]bool) error {
	for chunk := range slices.Chunk(rows, claimRows) {
		var q strings.Builder
		q.WriteString(`INSERT INTO duplicate_claims (account_id, fingerprint, message_id, "until") VALUES `)
		args := make([]any, 0, 4*len(chunk)+1)
		for k, r := range chunk {
			if k > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?)")
			args = append(args, r.d.AccountID, r.d.Fingerprint, r.d.MessageID, r.d.Until)
		}
		q.WriteString(` ON CONFLICT (account_id, fingerprint) DO UPDATE SET message_id = excluded.message_id, "until" = excluded."until"
WHERE duplicate_claims."until" <= ? RETURNING account_id, fingerprint`)
		args = append(args, now.UnixMilli())
		var got []DuplicateClaim
		if err := tx.Raw(q.String(), args...).Scan(&got).Error; err != nil {
			return fmt.Errorf("claim duplicate windows: %w", err)
		}
		for _, g := range got {
			claimed[dupKey{g.AccountID, g.Fingerprint}] = true
		}
	}
	return nil
}

// refuseHeldClaims refuses the acceptances whose window another message
// still holds, naming that message, and repeats within the batch of a
// refused first with it too.
func refuseHeldClaims(tx *gorm.DB, as []intake.Acceptance, idx []int, rows []dupRow, first map[dupKey]int, claimed map[dupKey]bool, refused []error) error {
	holders := map[dupKey]string{}
	for _, r := range rows {
		k := dupKey{r.d.AccountID, r.d.Fingerprint}
		if claimed[k] {
			continue
		}
		var prev DuplicateClaim
		if err := tx.Where("account_id = ? AND fingerprint = ?", r.d.AccountID, r.d.Fingerprint).Take(&prev).Error; err != nil {
			return fmt.Errorf("read duplicate claim: %w", err)
		}
		refused[r.i] = &message.DuplicateError{MessageID: prev.MessageID}
		holders[k] = prev.MessageID
	}
	// Repeats within the batch of a refused first name the real holder.
	for _, i := range idx {
		d := as[i].Duplicates[0]
		if h, ok := holders[dupKey{d.AccountID, d.Fingerprint}]; ok && first[dupKey{d.AccountID, d.Fingerprint}] != i {
			refused[i] = &message.DuplicateError{MessageID: h}
		}
	}
	return nil
}

// claim writes an acceptance's idempotency record and duplicate claims, or
// returns the *intake.ReplayError or *message.DuplicateError that refuses it.
func claim(tx *gorm.DB, a *intake.Acceptance, now time.Time) error {
	if idem := a.Idempotency; idem != nil {
		rec := IdempotencyRecord{AccountID: idem.AccountID, Key: idem.Key, RequestHash: idem.RequestHash,
			StatusCode: int(idem.Code), Body: idem.Body, CreatedAt: now, ExpiresAt: idem.ExpiresAt}
		// An expired record is overwritten; a live one is the answer.
		res := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "account_id"}, {Name: "key"}},
			DoUpdates: clause.AssignmentColumns([]string{"request_hash", "status_code", "body", "created_at", "expires_at"}),
			Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "idempotency_records.expires_at <= ?", Vars: []any{now}}}},
		}).Create(&rec)
		if res.Error != nil {
			return fmt.Errorf("store idempotency key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			var prev IdempotencyRecord
			if err := tx.Where("account_id = ? AND key = ?", rec.AccountID, rec.Key).Take(&prev).Error; err != nil {
				return fmt.Errorf("read idempotency key: %w", err)
			}
			return &intake.ReplayError{Record: prev.answer()}
		}
	}
	until := a.DuplicateUntil.UnixMilli()
	for _, c := range a.Duplicates {
		d := DuplicateClaim{AccountID: c.AccountID, Fingerprint: c.Fingerprint, MessageID: c.MessageID, Until: until}
		res := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "account_id"}, {Name: "fingerprint"}},
			DoUpdates: clause.AssignmentColumns([]string{"message_id", "until"}),
			Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "duplicate_claims.until <= ?", Vars: []any{now.UnixMilli()}}}},
		}).Create(&d)
		if res.Error != nil {
			return fmt.Errorf("claim duplicate window: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			var prev DuplicateClaim
			if err := tx.Where("account_id = ? AND fingerprint = ?", d.AccountID, d.Fingerprint).Take(&prev).Error; err != nil {
				return fmt.Errorf("read duplicate claim: %w", err)
			}
			return &message.DuplicateError{MessageID: prev.MessageID}
		}
	}
	return nil
}

// IdempotencyRecordFor returns the live answer stored for the account's
// key, or ErrNotFound.
func (s *Store) IdempotencyRecordFor(ctx context.Context, accountID, key string) (intake.Idempotency, error) {
	var rec IdempotencyRecord
	err := s.db.WithContext(ctx).Where("account_id = ? AND key = ? AND expires_at > ?", accountID, key, s.now()).Take(&rec).Error
	if err != nil {
		return intake.Idempotency{}, fmt.Errorf("idempotency key: %w", notFound(err))
	}
	return rec.answer(), nil
}

// answer is the record as the service reads it.
func (r *IdempotencyRecord) answer() intake.Idempotency {
	return intake.Idempotency{AccountID: r.AccountID, Key: r.Key, RequestHash: r.RequestHash, Code: intake.AnswerCode(r.StatusCode),
		Body: r.Body, ExpiresAt: r.ExpiresAt}
}

// ForgetExpired deletes idempotency records and duplicate claims past
// their time; old rows only cost space, so callers run it now and then.
func (s *Store) ForgetExpired(ctx context.Context) error {
	now := s.now()
	// In chunks (see Prune): a backlog must not hold the write lock that
	// accepting messages needs.
	if _, err := s.deleteInChunks(ctx, "idempotency_records", "expires_at <= ?", now); err != nil {
		return fmt.Errorf("forget expired idempotency keys: %w", err)
	}
	if _, err := s.deleteInChunks(ctx, "duplicate_claims", "until <= ?", now.UnixMilli()); err != nil {
		return fmt.Errorf("forget expired duplicate claims: %w", err)
	}
	return nil
}
