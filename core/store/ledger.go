package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// Kinds of ledger entries.
const (
	// EntryTopup adds credit bought or granted (including an account's
	// opening credit).
	EntryTopup = "topup"
	// EntryCharge takes a message's price at accept time.
	EntryCharge = "charge"
	// EntryRefund gives a charge back: the message failed before any
	// provider accepted it.
	EntryRefund = "refund"
	// EntryAdjustment is an operator's correction, either sign, and the
	// balance carried over from before the ledger existed.
	EntryAdjustment = "adjustment"
)

// RefundUnsent is the reason of refunds for messages that ended (failed,
// rejected, expired, cancelled) before any provider accepted them.
const RefundUnsent = "the message ended before any provider accepted it"

// LedgerEntry is one movement of an account's credit. Entries are only
// ever added; the account's balance column moves in the same transaction,
// so it always equals the sum of its entries.
type LedgerEntry struct {
	// ID orders an account's entries (and pages them).
	ID        uint64 `gorm:"primaryKey;autoIncrement" json:"id"`
	AccountID string `gorm:"size:40;not null;index:idx_ledger_entries_account,priority:1" json:"-"`
	// Amount is signed: charges are negative, top-ups and refunds positive.
	Amount money.Amount `gorm:"column:amount_micros;not null" json:"amount"`
	// BalanceAfter is the account's balance once this entry was applied.
	BalanceAfter money.Amount `gorm:"column:balance_after_micros;not null" json:"balance_after"`
	Kind         string       `gorm:"size:16;not null" json:"kind"`
	MessageID    string       `gorm:"size:40;not null;default:''" json:"message_id,omitempty"`
	Reason       string       `gorm:"not null;default:''" json:"reason,omitempty"`
	CreatedAt    time.Time    `gorm:"not null" json:"created_at"`
}

// Billing is how accounts are charged, from the api block of the config.
// The zero value opens accounts with no credit and no credit limit (they
// are never refused; charges are still recorded) and sends no balance.low.
type Billing struct {
	// Currency names the currency amounts are in, for balance.low events.
	Currency string
	// OpeningCredit is the balance a new account starts with, written as
	// its first ledger entry.
	OpeningCredit money.Amount
	// CreditLimit is the credit limit new accounts get: nil means none
	// (postpaid: the balance may go below zero), 0 prepaid.
	CreditLimit *money.Amount
	// LowBalance is the threshold for accounts without their own; nil
	// means none.
	LowBalance *money.Amount
}

// BalanceLowData is the data of balance.low events.
type BalanceLowData struct {
	AccountID string       `json:"account_id"`
	Balance   money.Amount `json:"balance"`
	Threshold money.Amount `json:"threshold"`
	Currency  string       `json:"currency,omitempty"`
}

// billedAccount is what charging reads of an account.
type billedAccount struct {
	ID          string
	Balance     money.Amount  `gorm:"column:balance_micros"`
	CreditLimit *money.Amount `gorm:"column:credit_limit_micros"`
	LowBalance  *money.Amount `gorm:"column:low_balance_micros"`
}

// affords reports whether the account may be charged cost from balance.
func (a *billedAccount) affords(balance, cost money.Amount) bool {
	return a.CreditLimit == nil || cost <= 0 || balance-cost >= -*a.CreditLimit
}

// threshold is the account's low-balance threshold, if it has one.
func (s *Store) threshold(a *billedAccount) (money.Amount, bool) {
	if a.LowBalance != nil {
		return *a.LowBalance, true
	}
	if s.billing.LowBalance != nil {
		return *s.billing.LowBalance, true
	}
	return 0, false
}

// errCreditRace means a charge found the balance changed since the
// unlocked read it was decided on, so that it no longer fits; the batch is
// decided again under the accounts' locks.
var errCreditRace = errors.New("the balance changed while the batch was decided")

// readAccounts reads the accounts' balances and limits; with lock, for
// update, in id order so that concurrent transactions take the locks in
// one order and cannot deadlock (SQLite's single writer needs no row
// locks).
func (s *Store) readAccounts(tx *gorm.DB, ids []string, lock bool) (map[string]*billedAccount, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	q := "SELECT id, balance_micros, credit_limit_micros, low_balance_micros FROM accounts WHERE id IN ? ORDER BY id"
	if lock && s.driver == DriverPostgres {
		q += " FOR UPDATE"
	}
	var rows []billedAccount
	if err := tx.Raw(q, ids).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read %d accounts to charge: %w", len(ids), err)
	}
	out := make(map[string]*billedAccount, len(rows))
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	for _, id := range ids {
		if out[id] == nil {
			return nil, fmt.Errorf("charge account %s: %w", id, ErrNotFound)
		}
	}
	return out, nil
}

// acceptanceCosts sums what each account pays for an acceptance's
// messages; nil when they are all free.
func acceptanceCosts(a *intake.Acceptance) map[string]money.Amount {
	var out map[string]money.Amount
	for _, m := range a.Messages {
		if m.Charged == 0 {
			continue
		}
		if out == nil {
			out = map[string]money.Amount{}
		}
		out[m.AccountID] += m.Charged
	}
	return out
}

// chargeAcceptances decides which acceptances not yet refused the accounts
// can pay for, in batch order, and refuses the others with an
// *account.InsufficientCreditError; charged is false when nothing in the batch
// costs anything. writeCharges then charges the accounts after the
// messages are stored.
//
// Without lock the accounts are not locked here, so that a busy account's
// row is locked only from its charge to the commit, not while the batch's
// messages are written: batches of one account then overlap instead of
// queueing behind each other. Balances are read only for accounts with a
// credit limit (as far as this process knows: an account without one is
// admitted unread). writeCharges re-checks each charge against the limit
// in its UPDATE and returns errCreditRace when it no longer fits (a
// concurrent batch took the credit, or a limit was set meanwhile); the
// caller then decides the batch again with lock, which reads every
// account for update.
func (s *Store) chargeAcceptances(tx *eventTx, as []intake.Acceptance, refused []error, lock bool) (charged bool, err error) {
	costs := make([]map[string]money.Amount, len(as))
	var ids, read []string
	for i := range as {
		if refused[i] != nil {
			continue
		}
		costs[i] = acceptanceCosts(&as[i])
		for id := range costs[i] {
			ids = append(ids, id)
			if limited, known := s.limited.Load(id); lock || !known || limited.(bool) {
				read = append(read, id)
			}
		}
	}
	if len(ids) == 0 {
		return false, nil
	}
	accounts := map[string]*billedAccount{}
	if len(read) > 0 {
		if accounts, err = s.readAccounts(tx.DB, read, lock); err != nil {
			return false, err
		}
	}
	balance := make(map[string]money.Amount, len(accounts))
	for id, a := range accounts {
		balance[id] = a.Balance
		s.limited.Store(id, a.CreditLimit != nil)
	}
	var short []int
	for i, c := range costs {
		if c == nil {
			continue
		}
		ok := true
		for id, cost := range c {
			a := accounts[id]
			if a != nil && !a.affords(balance[id], cost) {
				refused[i] = &account.InsufficientCreditError{AccountID: id, Messages: len(as[i].Messages), Needed: cost,
					Balance: balance[id], CreditLimit: *a.CreditLimit}
				ok = false
				break
			}
		}
		if !ok {
			short = append(short, i)
			continue
		}
		for id, cost := range c {
			balance[id] -= cost
		}
	}
	if err := releaseClaims(tx.DB, as, short); err != nil {
		return false, err
	}
	return true, nil
}

// releaseClaims deletes the duplicate claims and idempotency records that
// the acceptances in idx wrote before they were refused for want of
// credit: a retry after a top-up must not be taken for a repeat.
func releaseClaims(tx *gorm.DB, as []intake.Acceptance, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	type claims struct{ fingerprints, messageIDs, keys []string }
	by := map[string]*claims{}
	get := func(acc string) *claims {
		if by[acc] == nil {
			by[acc] = &claims{}
		}
		return by[acc]
	}
	for _, i := range idx {
		for _, d := range as[i].Duplicates {
			c := get(d.AccountID)
			c.fingerprints = append(c.fingerprints, d.Fingerprint)
			c.messageIDs = append(c.messageIDs, d.MessageID)
		}
		if rec := as[i].Idempotency; rec != nil {
			get(rec.AccountID).keys = append(get(rec.AccountID).keys, rec.Key)
		}
	}
	for acc, c := range by {
		// The claim is only ours if it names our message: a repeat in the
		// same batch may have been refused in favour of someone else's.
		for chunk := range slices.Chunk(c.fingerprints, claimRows) {
			if err := tx.Exec("DELETE FROM duplicate_claims WHERE account_id = ? AND fingerprint IN ? AND message_id IN ?",
				acc, chunk, c.messageIDs).Error; err != nil {
				return fmt.Errorf("release duplicate claims of refused messages: %w", err)
			}
		}
		if len(c.keys) > 0 {
			if err := tx.Where("account_id = ? AND key IN ?", acc, c.keys).Delete(&IdempotencyRecord{}).Error; err != nil {
				return fmt.Errorf("release idempotency keys of refused messages: %w", err)
			}
		}
	}
	return nil
}

// writeCharges records the charges of the accepted messages: one balance
// update per account (in id order, so concurrent batches lock accounts in
// one order), then one ledger entry per charged message in one statement.
// The update only applies within the account's credit limit; an update
// that does not is errCreditRace.
func (s *Store) writeCharges(tx *eventTx, msgs []*Message, now time.Time) error {
	total := map[string]money.Amount{}
	for _, m := range msgs {
		total[m.AccountID] += m.Charged
	}
	ids := make([]string, 0, len(total))
	for id, t := range total {
		if t != 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	balance := make(map[string]money.Amount, len(ids))
	for _, id := range ids {
		var after []billedAccount
		if err := tx.Raw(`UPDATE accounts SET balance_micros = balance_micros - ?
WHERE id = ? AND (credit_limit_micros IS NULL OR balance_micros - ? >= -credit_limit_micros)
RETURNING id, balance_micros, credit_limit_micros, low_balance_micros`, total[id], id, total[id]).Scan(&after).Error; err != nil {
			return fmt.Errorf("charge account %s: %w", id, err)
		}
		if len(after) == 0 {
			var exists int64
			if err := tx.Model(&Account{}).Where("id = ?", id).Count(&exists).Error; err != nil {
				return fmt.Errorf("charge account %s: %w", id, err)
			}
			if exists == 0 {
				return fmt.Errorf("charge account %s: %w", id, ErrNotFound)
			}
			s.limited.Store(id, true)
			return errCreditRace
		}
		a := &after[0]
		s.limited.Store(id, a.CreditLimit != nil)
		before := a.Balance + total[id]
		balance[id] = before
		if err := s.noteLowBalance(tx, a, before, a.Balance, now); err != nil {
			return err
		}
	}
	entries := make([]LedgerEntry, 0, len(msgs))
	for _, m := range msgs {
		if m.Charged == 0 {
			continue
		}
		balance[m.AccountID] -= m.Charged
		entries = append(entries, LedgerEntry{AccountID: m.AccountID, Amount: -m.Charged, BalanceAfter: balance[m.AccountID],
			Kind: EntryCharge, MessageID: m.ID, CreatedAt: now})
	}
	return insertLedger(tx.DB, entries)
}

// ledgerRows caps the rows of one ledger insert (7 parameters each, well
// under both drivers' parameter limits).
const ledgerRows = 500

// insertLedger writes entries with one multi-row INSERT per ledgerRows,
// built by hand: it runs in every accept batch, where gorm's reflection
// per row shows.
func insertLedger(tx *gorm.DB, entries []LedgerEntry) error {
	for chunk := range slices.Chunk(entries, ledgerRows) {
		var q strings.Builder
		q.WriteString("INSERT INTO ledger_entries (account_id, amount_micros, balance_after_micros, kind, message_id, reason, created_at) VALUES ")
		args := make([]any, 0, 7*len(chunk))
		for k, e := range chunk {
			if k > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.AccountID, int64(e.Amount), int64(e.BalanceAfter), e.Kind, e.MessageID, e.Reason, e.CreatedAt.UTC())
		}
		if err := tx.Exec(q.String(), args...).Error; err != nil {
			return fmt.Errorf("write %d ledger entries: %w", len(chunk), err)
		}
	}
	return nil
}

// noteLowBalance enqueues balance.low when the balance went from at or
// above the account's threshold to below it. Only downward moves cross
// it, so an account hears about it once per crossing: again only after a
// top-up or refund took it back up.
func (s *Store) noteLowBalance(tx *eventTx, a *billedAccount, before, after money.Amount, now time.Time) error {
	t, ok := s.threshold(a)
	if !ok || before < t || after >= t {
		return nil
	}
	data := BalanceLowData{AccountID: a.ID, Balance: after, Threshold: t, Currency: s.billing.Currency}
	if err := enqueueWebhook(tx, a.ID, "", outbox.EventBalanceLow, data, now); err != nil {
		return fmt.Errorf("note low balance of account %s: %w", a.ID, err)
	}
	s.log.Info("account balance fell below its threshold", "account_id", a.ID, "balance", after.String(), "threshold", t.String())
	return nil
}

// refundMessages gives back what the messages were charged, once: the
// refunded_at guard makes a message refunded by one transaction invisible
// to every later one, whichever final-status path (failure, expiry,
// cancellation) calls it. Messages a provider accepted (sent_at or a
// provider message id recorded) are never refunded: they may have been
// delivered. Call it inside the transaction that makes the message's
// failure final.
func refundMessages(tx *gorm.DB, ids []string, reason string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	type refunded struct {
		ID        string
		AccountID string
		Charged   money.Amount `gorm:"column:charged_micros"`
	}
	var rows []refunded
	for chunk := range slices.Chunk(ids, claimRows) {
		var got []refunded
		if err := tx.Raw(`UPDATE messages SET refunded_at = ?
WHERE id IN ? AND charged_micros <> 0 AND refunded_at IS NULL AND sent_at IS NULL AND COALESCE(provider_message_id, '') = ''
RETURNING id, account_id, charged_micros`, now, chunk).Scan(&got).Error; err != nil {
			return fmt.Errorf("refund %d messages: %w", len(chunk), err)
		}
		rows = append(rows, got...)
	}
	if len(rows) == 0 {
		return nil
	}
	// Accounts in id order, like every charge, so that concurrent
	// transactions lock them in one order.
	slices.SortFunc(rows, func(a, b refunded) int {
		if a.AccountID != b.AccountID {
			if a.AccountID < b.AccountID {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	entries := make([]LedgerEntry, 0, len(rows))
	for start := 0; start < len(rows); {
		end := start
		total := money.Amount(0)
		for end < len(rows) && rows[end].AccountID == rows[start].AccountID {
			total += rows[end].Charged
			end++
		}
		acc := rows[start].AccountID
		var after money.Amount
		if err := tx.Raw("UPDATE accounts SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros",
			total, acc).Scan(&after).Error; err != nil {
			return fmt.Errorf("refund account %s: %w", acc, err)
		}
		running := after - total
		for _, r := range rows[start:end] {
			running += r.Charged
			entries = append(entries, LedgerEntry{AccountID: acc, Amount: r.Charged, BalanceAfter: running, Kind: EntryRefund,
				MessageID: r.ID, Reason: reason, CreatedAt: now})
		}
		start = end
	}
	return insertLedger(tx, entries)
}

// AddCredit adds amount (negative to take credit away) to the account's
// balance with a ledger entry: a top-up when positive, an adjustment
// when negative. It returns the entry.
func (s *Store) AddCredit(ctx context.Context, accountID string, amount money.Amount, reason string) (account.LedgerEntry, error) {
	if amount == 0 {
		return account.LedgerEntry{}, errors.New("add credit: the amount is zero")
	}
	kind := EntryTopup
	if amount < 0 {
		kind = EntryAdjustment
	}
	var e LedgerEntry
	err := s.transaction(ctx, func(tx *eventTx) error {
		accounts, err := s.readAccounts(tx.DB, []string{accountID}, true)
		if err != nil {
			return err
		}
		a := accounts[accountID]
		after := a.Balance + amount
		if err := tx.Exec("UPDATE accounts SET balance_micros = ? WHERE id = ?", after, accountID).Error; err != nil {
			return err
		}
		e = LedgerEntry{AccountID: accountID, Amount: amount, BalanceAfter: after, Kind: kind, Reason: reason, CreatedAt: s.now()}
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
		return s.noteLowBalance(tx, a, a.Balance, after, e.CreatedAt)
	})
	if err != nil {
		return account.LedgerEntry{}, fmt.Errorf("add %s credit to account %s: %w", amount, accountID, err)
	}
	return e.domain(), nil
}

// SetCreditLimit sets how far below zero the account's balance may go:
// nil removes the limit (the account is never refused), 0 makes it
// prepaid.
func (s *Store) SetCreditLimit(ctx context.Context, accountID string, limit *money.Amount) error {
	if limit != nil && *limit < 0 {
		return fmt.Errorf("set credit limit of account %s: the limit %s is negative", accountID, limit)
	}
	if err := s.setAccountColumn(ctx, accountID, "credit_limit_micros", limit, "credit limit"); err != nil {
		return err
	}
	s.limited.Store(accountID, limit != nil)
	return nil
}

// SetLowBalance sets the account's own low-balance threshold; nil means
// the configured one.
func (s *Store) SetLowBalance(ctx context.Context, accountID string, threshold *money.Amount) error {
	return s.setAccountColumn(ctx, accountID, "low_balance_micros", threshold, "low-balance threshold")
}

func (s *Store) setAccountColumn(ctx context.Context, id, column string, v *money.Amount, what string) error {
	var val any
	if v != nil {
		val = int64(*v)
	}
	res := s.db.WithContext(ctx).Model(&Account{}).Where("id = ?", id).Update(column, val)
	if res.Error != nil {
		return fmt.Errorf("set %s of account %s: %w", what, id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set %s of account %s: %w", what, id, ErrNotFound)
	}
	return nil
}

// Ledger returns a page of the account's ledger entries, newest first,
// and the cursor of the next page ("" after the last).
func (s *Store) Ledger(ctx context.Context, accountID string, p account.LedgerPage) ([]account.LedgerEntry, string, error) {
	if p.Limit <= 0 || p.Limit > 500 {
		return nil, "", fmt.Errorf("list ledger: limit %d is not within 1..500", p.Limit)
	}
	q := s.db.WithContext(ctx).Where("account_id = ?", accountID)
	if p.Cursor != "" {
		// Ids are bigints: a cursor beyond them is none this API gave.
		before, err := strconv.ParseInt(p.Cursor, 10, 64)
		if err != nil || before <= 0 {
			return nil, "", ErrBadCursor
		}
		q = q.Where("id < ?", before)
	}
	var out []LedgerEntry
	if err := q.Order("id DESC").Limit(p.Limit + 1).Find(&out).Error; err != nil {
		return nil, "", fmt.Errorf("list ledger: %w", err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = strconv.FormatUint(out[len(out)-1].ID, 10)
	}
	return domains(out, LedgerEntry.domain), next, nil
}

// openAccount writes a new account's opening credit.
func (s *Store) openAccount(tx *gorm.DB, acc *Account) error {
	if s.billing.OpeningCredit == 0 {
		return nil
	}
	e := LedgerEntry{AccountID: acc.ID, Amount: s.billing.OpeningCredit, BalanceAfter: acc.Balance, Kind: EntryTopup,
		Reason: "opening credit", CreatedAt: acc.CreatedAt}
	if err := tx.Create(&e).Error; err != nil {
		return fmt.Errorf("write opening credit: %w", err)
	}
	return nil
}

// carryOverCredit moves the credit column of databases from before the
// ledger into it: each account gets an adjustment entry for the credit it
// had (or the configured opening credit, which is what an account without
// one was shown), and the old column is dropped. It runs once: after it,
// the column is gone.
func (s *Store) carryOverCredit(db *gorm.DB) error {
	if !db.Migrator().HasColumn("accounts", "credit") {
		return nil
	}
	return db.Transaction(func(tx *gorm.DB) error {
		var rows []struct {
			ID     string
			Credit *float64
		}
		if err := tx.Raw("SELECT id, credit FROM accounts ORDER BY id").Scan(&rows).Error; err != nil {
			return fmt.Errorf("read credit to carry over: %w", err)
		}
		now := s.now()
		for _, r := range rows {
			amount := s.billing.OpeningCredit
			if r.Credit != nil {
				a, err := money.FromFloat(*r.Credit)
				if err != nil {
					return fmt.Errorf("carry over credit of account %s: %w", r.ID, err)
				}
				amount = a
			}
			if amount == 0 {
				continue
			}
			var after money.Amount
			if err := tx.Raw("UPDATE accounts SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros", amount, r.ID).
				Scan(&after).Error; err != nil {
				return fmt.Errorf("carry over credit of account %s: %w", r.ID, err)
			}
			if err := tx.Create(&LedgerEntry{AccountID: r.ID, Amount: amount, BalanceAfter: after, Kind: EntryAdjustment,
				Reason: "opening balance: the credit recorded before the ledger", CreatedAt: now}).Error; err != nil {
				return fmt.Errorf("carry over credit of account %s: %w", r.ID, err)
			}
		}
		if err := tx.Exec("ALTER TABLE accounts DROP COLUMN credit").Error; err != nil {
			return fmt.Errorf("drop the carried-over credit column: %w", err)
		}
		return nil
	})
}
