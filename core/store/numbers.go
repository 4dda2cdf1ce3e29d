package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/numbers"
)

// PhoneNumber is one number of the receiving inventory (core/numbers):
// where it comes from, what it can do, and who holds it until when.
type PhoneNumber struct {
	// idx_phone_numbers_free and idx_phone_numbers_free_op serve
	// assignment: the available numbers of a country (and operator),
	// least recently used first, in the order the pick reads them, so a
	// pick reads the index's first entries and stops instead of sorting
	// every free number (30 ms with 15,000 of them). Partial: only
	// numbers free to assign are in them.
	E164     string `gorm:"primaryKey;size:32;index:idx_phone_numbers_free,priority:3;index:idx_phone_numbers_free_op,priority:4"`
	Country  string `gorm:"size:2;not null;index:idx_phone_numbers_free,priority:1,where:state = 'available' AND can_receive;index:idx_phone_numbers_free_op,priority:1,where:state = 'available' AND can_receive"`
	Operator string `gorm:"size:128;not null;default:'';index:idx_phone_numbers_free_op,priority:2"`
	Provider string `gorm:"size:128;not null;default:''"`
	Source   string `gorm:"size:16;not null"`
	// CanReceive and CanSend are the number's capabilities.
	CanReceive bool   `gorm:"not null;default:true"`
	CanSend    bool   `gorm:"not null;default:false"`
	State      string `gorm:"size:16;not null"`
	// Holder is the account holding the number, or that held it last
	// while it is in quarantine.
	Holder     string     `gorm:"size:40;not null;default:'';index"`
	AssignedAt *time.Time `gorm:""`
	// LeaseUntil ends the lease (assigned) or the quarantine (quarantined).
	LeaseUntil *time.Time   `gorm:"index"`
	Charged    money.Amount `gorm:"column:charged_micros;not null;default:0"`
	Received   int          `gorm:"not null;default:0"`
	CreatedAt  time.Time    `gorm:"not null"`
	UpdatedAt  time.Time    `gorm:"not null;index:idx_phone_numbers_free,priority:2;index:idx_phone_numbers_free_op,priority:3"`
}

// NumberOperator gives each operator of the inventory its numeric id for
// the virtual-number API, once: ids never change once written.
type NumberOperator struct {
	ID      uint   `gorm:"primaryKey;autoIncrement"`
	Country string `gorm:"size:2;not null;uniqueIndex:idx_number_operators_name,priority:1"`
	Name    string `gorm:"size:128;not null;uniqueIndex:idx_number_operators_name,priority:2"`
}

func (p PhoneNumber) domain() numbers.Number {
	n := numbers.Number{E164: p.E164, Country: p.Country, Operator: p.Operator, Provider: p.Provider, Source: numbers.Source(p.Source),
		Receive: p.CanReceive, Send: p.CanSend, State: numbers.State(p.State), Holder: p.Holder, Charged: p.Charged, Received: p.Received}
	if p.AssignedAt != nil {
		n.AssignedAt = p.AssignedAt.UTC()
	}
	if p.LeaseUntil != nil {
		n.LeaseUntil = p.LeaseUntil.UTC()
	}
	return n
}

func phoneNumberRow(n numbers.Number, now time.Time) PhoneNumber {
	state := n.State
	if state == "" {
		state = numbers.Available
	}
	return PhoneNumber{E164: n.E164, Country: n.Country, Operator: n.Operator, Provider: n.Provider, Source: string(n.Source),
		CanReceive: n.Receive, CanSend: n.Send, State: string(state), CreatedAt: now, UpdatedAt: now}
}

// AddNumber puts one number into the inventory, available; it returns
// numbers.ErrExists when the number is there already (also retired).
func (s *Store) AddNumber(ctx context.Context, n numbers.Number) error {
	row := phoneNumberRow(n, s.now())
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return numbers.ErrExists
		}
		return ensureOperator(tx, n.Country, n.Operator)
	})
	if err != nil {
		return fmt.Errorf("add number %s: %w", n.E164, err)
	}
	return nil
}

// SyncNumbers adds the numbers a source lists (a provider block, a
// plugin) that the inventory lacks; numbers already there keep their state
// and holder. It returns how many it added.
func (s *Store) SyncNumbers(ctx context.Context, ns []numbers.Number) (int, error) {
	added := 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		for _, n := range ns {
			row := phoneNumberRow(n, now)
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if res.Error != nil {
				return fmt.Errorf("number %s: %w", n.E164, res.Error)
			}
			added += int(res.RowsAffected)
			if err := ensureOperator(tx, n.Country, n.Operator); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sync %d numbers into the inventory: %w", len(ns), err)
	}
	return added, nil
}

// ensureOperator gives an operator its id if it has none yet.
func ensureOperator(tx *gorm.DB, country, name string) error {
	if name == "" || country == "" {
		return nil
	}
	op := NumberOperator{Country: country, Name: name}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&op).Error; err != nil {
		return fmt.Errorf("give operator %s/%s an id: %w", country, name, err)
	}
	return nil
}

// RetireNumber takes a number out of service for good: it is never
// assigned again, and a lease it has ends now.
func (s *Store) RetireNumber(ctx context.Context, e164 string) error {
	res := s.db.WithContext(ctx).Model(&PhoneNumber{}).Where("e164 = ?", e164).
		Updates(map[string]any{"state": string(numbers.Retired), "updated_at": s.now()})
	if res.Error != nil {
		return fmt.Errorf("retire number %s: %w", e164, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("retire number %s: %w", e164, numbers.ErrUnknown)
	}
	return nil
}

// ListNumbers returns the inventory's numbers that f selects, by number.
func (s *Store) ListNumbers(ctx context.Context, f numbers.Filter) ([]numbers.Number, error) {
	q := s.db.WithContext(ctx).Model(&PhoneNumber{})
	if f.State != "" {
		q = q.Where("state = ?", string(f.State))
	}
	if f.Country != "" {
		q = q.Where("country = ?", f.Country)
	}
	if f.Operator != "" {
		q = q.Where("operator = ?", f.Operator)
	}
	if f.Holder != "" {
		q = q.Where("holder = ? AND state IN ?", f.Holder, []string{string(numbers.Assigned), string(numbers.Quarantined)})
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	var rows []PhoneNumber
	if err := q.Order("e164").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list numbers: %w", err)
	}
	return domains(rows, PhoneNumber.domain), nil
}

// GetNumber returns one number of the inventory, or numbers.ErrUnknown.
func (s *Store) GetNumber(ctx context.Context, e164 string) (numbers.Number, error) {
	var row PhoneNumber
	err := s.db.WithContext(ctx).Where("e164 = ?", e164).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return numbers.Number{}, numbers.ErrUnknown
	}
	if err != nil {
		return numbers.Number{}, fmt.Errorf("read number %s: %w", e164, err)
	}
	return row.domain(), nil
}

// NumberOperators returns every operator's id, by country and name.
func (s *Store) NumberOperators(ctx context.Context) ([]numbers.Operator, error) {
	var rows []NumberOperator
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list operator ids: %w", err)
	}
	out := make([]numbers.Operator, len(rows))
	for i, r := range rows {
		out[i] = numbers.Operator{ID: int(r.ID), Name: r.Name, CountryID: numbers.CountryID(r.Country), Country: r.Country}
	}
	return out, nil
}

// NumberCountries returns the countries that have numbers in service.
func (s *Store) NumberCountries(ctx context.Context) ([]string, error) {
	var out []string
	if err := s.db.WithContext(ctx).Model(&PhoneNumber{}).Where("state <> ?", string(numbers.Retired)).
		Distinct().Order("country").Pluck("country", &out).Error; err != nil {
		return nil, fmt.Errorf("list countries with numbers: %w", err)
	}
	return out, nil
}

// AssignNumber gives the account an available number of the request's
// country (and operator) until lease from now, charging price(number),
// atomically: concurrent requests, on this server or others sharing the
// PostgreSQL database, never get the same number. It returns
// numbers.ErrNoNumber when none is available and an
// *account.InsufficientCreditError when the account cannot pay.
func (s *Store) AssignNumber(ctx context.Context, req numbers.Request, lease time.Duration, price func(numbers.Number) money.Amount) (numbers.Number, error) {
	var got numbers.Number
	err := s.transaction(ctx, func(tx *eventTx) error {
		now := s.now()
		row, err := s.takeNumber(tx.DB, req, now, now.Add(lease))
		if err != nil {
			return err
		}
		n := row.domain()
		cost := money.Amount(0)
		if price != nil {
			cost = price(n)
		}
		if cost != 0 {
			if err := s.chargeNumber(tx, req.AccountID, n.E164, cost, now); err != nil {
				return err
			}
			if err := tx.Model(&PhoneNumber{}).Where("e164 = ?", n.E164).Update("charged_micros", cost).Error; err != nil {
				return err
			}
			n.Charged = cost
		}
		got = n
		return nil
	})
	if err != nil {
		return numbers.Number{}, fmt.Errorf("assign a number of %s to account %s: %w", req.Country, req.AccountID, err)
	}
	return got, nil
}

// takeNumber moves one available number to the account in one statement.
// On PostgreSQL the inner SELECT skips rows other transactions are taking
// (FOR UPDATE SKIP LOCKED), so 50 concurrent requests take 50 different
// numbers without waiting on each other; the outer state check holds
// even without the lock. SQLite has one writer at a time.
func (s *Store) takeNumber(tx *gorm.DB, req numbers.Request, now, until time.Time) (PhoneNumber, error) {
	pick, pickArgs := s.pickQuery(req)
	args := append([]any{string(numbers.Assigned), req.AccountID, now, until, now}, pickArgs...)
	args = append(args, string(numbers.Available))
	var rows []PhoneNumber
	q := `UPDATE phone_numbers SET state = ?, holder = ?, assigned_at = ?, lease_until = ?, updated_at = ?, charged_micros = 0, received = 0
WHERE e164 = (` + pick + `) AND state = ? RETURNING *`
	if err := tx.Raw(q, args...).Scan(&rows).Error; err != nil {
		return PhoneNumber{}, fmt.Errorf("take an available number: %w", err)
	}
	if len(rows) == 0 {
		return PhoneNumber{}, numbers.ErrNoNumber
	}
	return rows[0], nil
}

// pickQuery is the SELECT of the number to assign for req, with its
// arguments. The state is written out, not a parameter, so the planner can
// see that the partial indexes idx_phone_numbers_free(_op) hold the rows
// and read them in order (TestNumberPickReadsTheIndexInOrder).
func (s *Store) pickQuery(req numbers.Request) (string, []any) {
	pick := "SELECT e164 FROM phone_numbers WHERE state = '" + string(numbers.Available) + "' AND can_receive AND country = ?"
	args := []any{req.Country}
	if req.Operator != "" {
		pick += " AND operator = ?"
		args = append(args, req.Operator)
	}
	pick += " ORDER BY updated_at, e164 LIMIT 1"
	if s.driver == DriverPostgres {
		pick += " FOR UPDATE SKIP LOCKED"
	}
	return pick, args
}

// chargeNumber takes cost from the account for leasing e164, within its
// credit limit, with a ledger entry.
func (s *Store) chargeNumber(tx *eventTx, accountID, e164 string, cost money.Amount, now time.Time) error {
	var after []billedAccount
	if err := tx.Raw(`UPDATE accounts SET balance_micros = balance_micros - ?
WHERE id = ? AND (credit_limit_micros IS NULL OR balance_micros - ? >= -credit_limit_micros)
RETURNING id, balance_micros, credit_limit_micros, low_balance_micros`, cost, accountID, cost).Scan(&after).Error; err != nil {
		return fmt.Errorf("charge account %s for number %s: %w", accountID, e164, err)
	}
	if len(after) == 0 {
		accounts, err := s.readAccounts(tx.DB, []string{accountID}, false)
		if err != nil {
			return err
		}
		a := accounts[accountID]
		limit := money.Amount(0)
		if a.CreditLimit != nil {
			limit = *a.CreditLimit
		}
		return &account.InsufficientCreditError{AccountID: accountID, Needed: cost, Balance: a.Balance, CreditLimit: limit}
	}
	a := &after[0]
	if err := insertLedger(tx.DB, []LedgerEntry{{AccountID: accountID, Amount: -cost, BalanceAfter: a.Balance, Kind: EntryCharge,
		Reason: "number " + e164 + " leased", CreatedAt: now}}); err != nil {
		return err
	}
	return s.noteLowBalance(tx, a, a.Balance+cost, a.Balance, now)
}

// refundNumber gives back what a lease of e164 cost.
func refundNumber(tx *gorm.DB, accountID, e164 string, cost money.Amount, now time.Time) error {
	var after money.Amount
	if err := tx.Raw("UPDATE accounts SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros",
		cost, accountID).Scan(&after).Error; err != nil {
		return fmt.Errorf("refund account %s for number %s: %w", accountID, e164, err)
	}
	return insertLedger(tx, []LedgerEntry{{AccountID: accountID, Amount: cost, BalanceAfter: after, Kind: EntryRefund,
		Reason: "no message reached number " + e164 + " during its lease", CreatedAt: now}})
}

// ReleaseNumber ends the account's lease of e164 now: the number goes into
// quarantine until quarantineUntil (its messages still reach the account
// meanwhile), or straight back to the pool when that is not after now.
// refundUnused refunds the lease when no message reached the number.
func (s *Store) ReleaseNumber(ctx context.Context, accountID, e164 string, quarantineUntil time.Time, refundUnused bool) (numbers.Number, error) {
	var got numbers.Number
	err := s.transaction(ctx, func(tx *eventTx) error {
		now := s.now()
		var rows []PhoneNumber
		if err := tx.Raw(`UPDATE phone_numbers SET state = ?, lease_until = ?, updated_at = ?
WHERE e164 = ? AND holder = ? AND state = ? RETURNING *`, string(numbers.Quarantined), quarantineUntil.UTC(), now,
			e164, accountID, string(numbers.Assigned)).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return numbers.ErrNotHeld
		}
		if refundUnused && rows[0].Received == 0 && rows[0].Charged > 0 {
			if err := refundNumber(tx.DB, accountID, e164, rows[0].Charged, now); err != nil {
				return err
			}
		}
		got = rows[0].domain()
		return nil
	})
	if err != nil {
		return numbers.Number{}, fmt.Errorf("release number %s: %w", e164, err)
	}
	return got, nil
}

// ExtendNumber moves the end of the account's lease of e164 to until, as
// long as the lease is still running and until is no later than
// latest(assigned at).
func (s *Store) ExtendNumber(ctx context.Context, accountID, e164 string, until time.Time) (numbers.Number, error) {
	var rows []PhoneNumber
	now := s.now()
	err := s.db.WithContext(ctx).Raw(`UPDATE phone_numbers SET lease_until = ?, updated_at = ?
WHERE e164 = ? AND holder = ? AND state = ? AND lease_until > ? RETURNING *`, until.UTC(), now, e164, accountID,
		string(numbers.Assigned), now).Scan(&rows).Error
	if err != nil {
		return numbers.Number{}, fmt.Errorf("extend the lease of number %s: %w", e164, err)
	}
	if len(rows) == 0 {
		return numbers.Number{}, fmt.Errorf("extend the lease of number %s: %w", e164, numbers.ErrNotHeld)
	}
	return rows[0].domain(), nil
}

// SweepNumbers ends the leases due by now (into quarantine for
// p.Quarantine, refunding unused ones when p says so) and the quarantines
// due by now (back to the pool). Every change is a conditional UPDATE, so
// servers sweeping together each move a number once.
func (s *Store) SweepNumbers(ctx context.Context, now time.Time, p numbers.Policy) (numbers.Swept, error) {
	var out numbers.Swept
	now = now.UTC()
	err := s.transaction(ctx, func(tx *eventTx) error {
		var ended []PhoneNumber
		if err := tx.Raw(`UPDATE phone_numbers SET state = ?, lease_until = ?, updated_at = ?
WHERE state = ? AND lease_until <= ? RETURNING *`, string(numbers.Quarantined), now.Add(p.Quarantine), now,
			string(numbers.Assigned), now).Scan(&ended).Error; err != nil {
			return fmt.Errorf("end due leases: %w", err)
		}
		out.Ended = len(ended)
		for _, r := range ended {
			if p.RefundUnused && r.Received == 0 && r.Charged > 0 {
				if err := refundNumber(tx.DB, r.Holder, r.E164, r.Charged, now); err != nil {
					return err
				}
				out.Refunded++
			}
		}
		res := tx.Exec(`UPDATE phone_numbers SET state = ?, holder = '', lease_until = NULL, updated_at = ?
WHERE state = ? AND lease_until <= ?`, string(numbers.Available), now, string(numbers.Quarantined), now)
		if res.Error != nil {
			return fmt.Errorf("end due quarantines: %w", res.Error)
		}
		out.Freed = int(res.RowsAffected)
		return nil
	})
	if err != nil {
		return numbers.Swept{}, fmt.Errorf("sweep number leases: %w", err)
	}
	return out, nil
}

// NumberMessages returns the inbound messages to e164, newest first: for
// an account, those it received on the number since its current (or last)
// lease began; for accountID "" (an admin), all of them.
func (s *Store) NumberMessages(ctx context.Context, accountID, e164 string, limit int) ([]inbound.Message, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	q := s.db.WithContext(ctx).Where("recipient IN ?", recipientForms(e164))
	if accountID != "" {
		var row PhoneNumber
		err := s.db.WithContext(ctx).Where("e164 = ? AND holder = ?", e164, accountID).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("messages to number %s: %w", e164, numbers.ErrNotHeld)
		}
		if err != nil {
			return nil, fmt.Errorf("messages to number %s: %w", e164, err)
		}
		q = q.Where("account_id = ?", accountID)
		if row.AssignedAt != nil {
			q = q.Where("received_at >= ?", row.AssignedAt.UTC())
		}
	}
	var rows []InboundMessage
	if err := q.Order("received_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("messages to number %s: %w", e164, err)
	}
	return domains(rows, InboundMessage.domain), nil
}

// recipientForms are the ways a provider may write a number: E.164 with
// its plus, or its digits alone.
func recipientForms(recipient string) []string {
	digits := numberKey(recipient)
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return []string{recipient} // an alphanumeric name, kept as written
	}
	return []string{"+" + digits, digits}
}

// inventoryOwner finds the number an inbound message went to in the
// inventory and counts the message against its lease. found is false for
// a number outside the inventory; owner is "" for one nobody holds.
func inventoryOwner(tx *gorm.DB, recipient string) (n numbers.Number, found bool, err error) {
	var rows []PhoneNumber
	if err := tx.Where("e164 IN ?", recipientForms(recipient)).Limit(1).Find(&rows).Error; err != nil {
		return numbers.Number{}, false, fmt.Errorf("look up number %s in the inventory: %w", recipient, err)
	}
	if len(rows) == 0 {
		return numbers.Number{}, false, nil
	}
	n = rows[0].domain()
	if numbers.OwnerOf(n) != "" {
		if err := tx.Exec("UPDATE phone_numbers SET received = received + 1 WHERE e164 = ?", n.E164).Error; err != nil {
			return numbers.Number{}, false, fmt.Errorf("count a message to number %s: %w", n.E164, err)
		}
	}
	return n, true, nil
}
