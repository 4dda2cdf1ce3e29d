package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
)

// Message is one SMS an application asked us to send, with where it stands in
// its delivery.
type Message struct {
	// ID also keys idx_messages_sealed, which holds only the messages
	// whose full text is kept sealed until they are final (see
	// SealedText): the sweep that drops those texts reads no others.
	//
	// idx_messages_account_created serves the account's message list,
	// newest first and paged by (created_at, id), as an index range:
	// with a million messages in one account an index on account_id
	// alone made each page read and sort them all (see
	// docs/performance.md). It replaced that index, so accepts still
	// write one index entry for the account.
	ID        string `gorm:"primaryKey;size:40;index:idx_messages_sealed,where:sealed_text IS NOT NULL;index:idx_messages_account_created,priority:3,sort:desc"`
	AccountID string `gorm:"size:40;not null;index:idx_messages_account_created,priority:1"`
	// Recipient is the E.164 destination. The column is not called "to"
	// because TO is an SQL keyword.
	Recipient string `gorm:"size:20;not null"`
	Sender    string `gorm:"size:32"`
	// Text is the text to send, in the clear, as callers give it and as
	// ClaimDue returns it. The column holds what the message keeps for
	// good (see MessageBodies): the text sealed with the server key, the
	// masked text, or nothing; other reads return it as stored (see
	// Store.MessageText).
	Text string `gorm:"not null"`
	// SealedText is the full text, sealed, kept until the message is
	// never to be sent again when the column text keeps less; nil
	// otherwise. Only the store sets it.
	SealedText *string `gorm:"column:sealed_text"`
	// Mask lists parts of Text (a one-time code) that the stored text
	// never shows, whatever the account's policy. Not stored.
	Mask     []string       `gorm:"-"`
	Encoding string         `gorm:"size:8;not null"`
	Segments int            `gorm:"not null"`
	Kind     message.Kind   `gorm:"size:32;not null"`
	Country  string         `gorm:"size:2"`
	Status   message.Status `gorm:"size:16;not null"`
	// Route and Plan record the routing decision: the route that matched and
	// the ordered candidate provider names (JSON array).
	Route string `gorm:"size:64"`
	Plan  string `gorm:"not null"`
	// Candidate indexes Plan: the provider the next attempt goes to.
	Candidate int `gorm:"not null;default:0"`
	// Why is the routing decision's compact explanation as JSON (the route's
	// rule values, each candidate kept or dropped, the draw), written with
	// the row at accept; "" for messages accepted before it was kept. Only
	// the detail reads it.
	Why string `gorm:"not null;default:''"`
	// Reports find their message by (provider, provider message id). The
	// id leads the index: it is nearly unique, so a lookup stays a few
	// index entries even when the planner misjudges how many rows one
	// provider has (as it does while a fresh table fills), where leading
	// with the provider made it read every message of that provider.
	//
	// The index holds only messages that have an id (sent ones): a
	// message waiting in the queue adds no entry to it, and lookups say
	// provider_message_id <> '' so that the planner reads it.
	//
	// The status poller's claims read idx_messages_awaiting_poll (see
	// AwaitingReportSince).
	Provider          string `gorm:"size:64;index:idx_messages_sent_ref,priority:2;index:idx_messages_awaiting_poll,priority:1,where:awaiting_report_since IS NOT NULL"`
	ProviderMessageID string `gorm:"size:128;index:idx_messages_sent_ref,priority:1,where:provider_message_id <> ''"`
	Attempts          int    `gorm:"not null;default:0"`
	// NextAttemptAt and LeaseUntil make the messages table the dispatch queue:
	// a message is due when it is queued or pending, NextAttemptAt has passed
	// and no dispatcher holds an unexpired lease on it. A dispatcher that
	// dies mid-send leaves a lease that simply runs out.
	//
	// The queue's index, idx_messages_queued, holds only unsent messages,
	// so sent and finished ones leave it at once: an index over every
	// status made each claim wade through tens of thousands of entries of
	// messages that moved on (and of their dead row versions) under load.
	// Its condition is the generated column queued, not status (see
	// addQueuedColumn), and queries that read it say queued.
	NextAttemptAt time.Time `gorm:"not null"`
	// Queued is that generated column: true while the message is queued
	// or pending. Only read (RETURNING * scans it like any column); the
	// migration, not gorm, makes it.
	Queued       bool       `gorm:"->;-:migration"`
	LeaseUntil   *time.Time `gorm:""`
	ExpiresAt    time.Time  `gorm:"not null"`
	ErrorCode    string     `gorm:"size:64"`
	ErrorMessage string     `gorm:""`
	CreatedAt    time.Time  `gorm:"index:idx_messages_account_created,priority:2,sort:desc"`
	UpdatedAt    time.Time
	// SentAt, DeliveredAt and FailedAt are when smsrouter learnt of the
	// status, by its own clock, so that they follow one another in the
	// order things happened; ProviderStatusAt is when the provider says
	// the status last applied from its reports was reached, by its clock
	// (an SMPP receipt's "done date" has minute precision and the SMSC's
	// zone).
	SentAt           *time.Time
	DeliveredAt      *time.Time
	FailedAt         *time.Time
	ProviderStatusAt *time.Time
	// PolledAt is when the provider was last asked for this message's
	// status, PollCount how often, and NextPollAt when to ask next; a nil
	// NextPollAt after a poll means polling gave up.
	PolledAt   *time.Time
	PollCount  int `gorm:"not null;default:0"`
	NextPollAt *time.Time
	// AwaitingReportSince is when a provider whose statuses are polled
	// (Store.SetPolledProviders) accepted the message, kept until the
	// message is final or polling gives up, and nil otherwise: the status
	// poller's index holds only messages with one. No index depends on
	// status, so that a report's update of a message no poller waits for
	// changes no indexed column and PostgreSQL makes it a HOT update (no
	// new index entries).
	AwaitingReportSince *time.Time `gorm:"index:idx_messages_awaiting_poll,priority:2"`
	// Charged is what the account paid for the message at accept time,
	// and RefundedAt when it was given back (at most once: it failed
	// before any provider accepted it).
	Charged    money.Amount `gorm:"column:charged_micros;not null;default:0"`
	RefundedAt *time.Time
	// FinalEventID is the id of the provider event whose report made the
	// message final, when that report was applied without a row in
	// processed_events: a final status never changes, so a replay of the
	// event finds it here and is dropped (eventguard.go). Only the
	// report path writes it.
	FinalEventID *string `gorm:"size:191;<-:false"`
	// CallbackURL, when set, receives this message's webhooks instead of
	// the account's webhook URL (signed with the account's secret).
	CallbackURL string `gorm:"not null;default:''"`

	// SendAt is when the application asked the message to be sent (the
	// first NextAttemptAt); nil for "at once".
	SendAt *time.Time
	// Tags are a scheduled message's tags (a JSON object), kept so that it
	// is routed again at its send time with them; "" for other messages,
	// whose route is decided once, at accept.
	Tags string `gorm:"not null;default:''"`
	// History is the message's status changes, one JSON object a line
	// (see history.go), appended by the statements that make them. It is
	// in no index, so that it never stops a status update from being HOT.
	History string `gorm:"not null;default:''"`
}

// StatusChange is one transition of a message, with the provider's raw
// words for it, kept for operators and for the status history API. It is
// stored as a line of Message.History; the status_changes table holds the
// ones earlier versions wrote, still read (Store.StatusChanges).
type StatusChange struct {
	ID             uint64         `gorm:"primaryKey;autoIncrement"`
	MessageID      string         `gorm:"size:40;not null;index"`
	Status         message.Status `gorm:"size:16;not null"`
	Provider       string         `gorm:"size:64"`
	ProviderStatus string         `gorm:"size:64"`
	ErrorCode      string         `gorm:"size:64"`
	Reason         string         `gorm:""`
	Applied        bool           `gorm:"not null"` // false for late reports that could not move the message
	// At is when smsrouter learnt of the change; ProviderAt, for a report,
	// when the provider says it happened, by its own clock.
	At         time.Time `gorm:"not null"`
	ProviderAt *time.Time
	CreatedAt  time.Time
}

// ProcessedEvent remembers provider event ids already stored, so that a
// provider re-emitting an event after a restart changes nothing. A report
// that made its message final has no row: the message keeps its id
// (Message.FinalEventID, eventguard.go).
type ProcessedEvent struct {
	Provider string `gorm:"primaryKey;size:64"`
	EventID  string `gorm:"primaryKey;size:191"`
	// CreatedAt is indexed for Prune, which forgets ids past their
	// retention without scanning the table. Ids with an expiry are pruned
	// by it instead, so each row has an entry in one of the two partial
	// indexes, not in both: a row is written for many delivery reports,
	// and every index entry is work on the report path.
	CreatedAt time.Time `gorm:"index:idx_processed_events_age,where:expires_at IS NULL"`
	// ExpiresAt, for an event that came with a DuplicateWindow, is when the
	// id stops marking a repeat: an event with the same id after it is
	// stored as new (an SMPP inbound message's id is a hash of its content,
	// and a handset may send the same text again). Nil: the id counts for
	// the whole retention.
	ExpiresAt *time.Time `gorm:"index:idx_processed_events_expiry,where:expires_at IS NOT NULL"`
}

// HeldStatus is a delivery report whose message we do not know yet: the
// provider reported before its submit answer was recorded (an SMPP receipt
// can beat its own submit_sm_resp). It is applied when the answer lands, or
// pruned after Retention.HeldStatuses (a report for a message that never
// comes, such as a later part's receipt delivered again after the plugin
// forgot the part, must not stay for ever).
type HeldStatus struct {
	ID                uint64 `gorm:"primaryKey;autoIncrement"`
	Provider          string `gorm:"size:64;not null;index:idx_held_provider_ref,priority:2"`
	ProviderMessageID string `gorm:"size:128;not null;index:idx_held_provider_ref,priority:1"`
	// Recipient is the report's recipient in digits (without "+"), or "":
	// only a message to that number takes the report.
	Recipient      string         `gorm:"size:32;not null;default:''"`
	Status         message.Status `gorm:"size:16;not null"`
	ProviderStatus string         `gorm:"size:64"`
	ErrorCode      string         `gorm:"size:64"`
	// At is when smsrouter learnt of the report, ProviderAt when the
	// provider says it happened.
	At         time.Time
	ProviderAt *time.Time
	CreatedAt  time.Time `gorm:"index"`
	// EventID is the id of the event that brought the report: should
	// the same event have made the message final meanwhile (stored again
	// by a transaction that saw the message), the held copy is dropped
	// when its message comes (eventguard.go).
	EventID string `gorm:"size:191;not null;default:''"`
}

// InboundMessage is an SMS a handset sent to one of our numbers.
type InboundMessage struct {
	// ID ends the listing index so that a page boundary between messages
	// received at the same instant is a range in the index too.
	ID string `gorm:"primaryKey;size:40;index:idx_inbound_messages_account_received,priority:3"`
	// AccountID is the account the message was reported to (see
	// Store.SetInboundOwners); empty when there was no account. The index
	// serves ListInbound: one account's messages, newest first.
	AccountID         string `gorm:"size:40;not null;default:'';index:idx_inbound_messages_account_received,priority:1"`
	Provider          string `gorm:"size:64;not null;index"`
	ProviderMessageID string `gorm:"size:128"`
	Sender            string `gorm:"size:32"`
	Recipient         string `gorm:"size:32"`
	Text              string
	ReceivedAt        time.Time `gorm:"not null;index:idx_inbound_messages_account_received,priority:2"`
	CreatedAt         time.Time
}

// insertMessages stores newly accepted messages inside the caller's
// transaction, for callers that store other records with the messages. Their texts are
// stored sealed or masked (sealTexts); the messages keep their plaintext.
func (s *Store) insertMessages(tx *gorm.DB, msgs []*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	restore, err := s.sealTexts(tx, msgs)
	if err != nil {
		return err
	}
	defer restore()
	for _, m := range msgs {
		// UTC so that ClaimDue's comparisons order them right on SQLite.
		m.NextAttemptAt, m.ExpiresAt = m.NextAttemptAt.UTC(), m.ExpiresAt.UTC()
		if m.SendAt != nil {
			at := m.SendAt.UTC()
			m.SendAt = &at
		}
	}
	// No status change is stored for the queued status a message starts
	// in: its created_at says when (storetest.StatusHistory adds it). A row per
	// message was a sixth of what the database wrote for it. A message its
	// route holds is the exception: its history says why it waits.
	now := tx.NowFunc()
	for _, m := range msgs {
		if m.ErrorCode == message.CodeHeld && m.History == "" {
			if m.CreatedAt.IsZero() {
				m.CreatedAt, m.UpdatedAt = now, now
			}
			m.History = string(historyLines(nil, tx.Dialector.Name(), StatusChange{MessageID: m.ID, Status: message.Queued,
				ErrorCode: m.ErrorCode, Reason: m.ErrorMessage, Applied: true, At: m.CreatedAt}))
		}
	}
	return insertRows(tx, msgs)
}

// GetMessage returns the account's message with the given id, or ErrNotFound.
func (s *Store) GetMessage(ctx context.Context, accountID, id string) (Message, error) {
	var m Message
	err := s.db.WithContext(ctx).Where("id = ? AND account_id = ?", id, accountID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Message{}, ErrNotFound
	}
	if err != nil {
		return Message{}, fmt.Errorf("get message %s: %w", id, err)
	}
	return m, nil
}

// claimDueQuery is ClaimDue's update up to the lock of its inner select:
// the condition names queued, idx_messages_queued's own, so that both
// drivers read the queue's index.
const claimDueQuery = `UPDATE messages SET lease_until = ?, attempts = attempts + 1, updated_at = ?
WHERE id IN (SELECT id FROM messages
  WHERE queued AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
  ORDER BY next_attempt_at LIMIT ?`

// ClaimDue leases up to limit due messages to the caller for lease, so that
// no other dispatcher (in this or another process) takes them meanwhile, and
// counts the attempt.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]dispatch.Message, error) {
	lock := ""
	if s.Driver() == "postgres" {
		// SKIP LOCKED lets several servers claim disjoint batches without
		// waiting on each other. SQLite has one writer, so needs nothing.
		lock = " FOR UPDATE SKIP LOCKED"
	}
	q := claimDueQuery + lock + `)
RETURNING *`
	// SQLite compares times as text, which orders instants correctly only
	// when all of them are written in one zone; every time this file writes
	// or compares is therefore UTC, whatever zone the caller's clock uses.
	now = now.UTC()
	db := s.db.WithContext(ctx)
	rows, err := db.Raw(q, now.Add(lease), now, now, now, limit).Rows()
	if err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	out, err := scanStructs[Message](db, rows)
	if err != nil {
		return nil, fmt.Errorf("claim due messages: %w", err)
	}
	out, err = s.failUnreadable(ctx, out, s.revealTexts(out), now)
	if err != nil {
		return nil, err
	}
	return claimed(out), nil
}

// NextDue returns when the earliest queued or pending message becomes due, or
// false when there is none.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var m Message
	// The condition is the queue index's own: SQLite uses the partial
	// index only when it can see that, and without it this read scanned
	// the table after every dispatch round (a sixth of the server's CPU
	// under load).
	err := s.db.WithContext(ctx).Select("next_attempt_at", "lease_until").
		Where("queued").
		Order("next_attempt_at").Limit(1).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due message: %w", err)
	}
	due := m.NextAttemptAt
	if m.LeaseUntil != nil && m.LeaseUntil.After(due) {
		due = *m.LeaseUntil
	}
	return due, true, nil
}

// RecordAttempts stores the outcome of dispatch attempts in one transaction
// and releases their leases. Reports held for an accepted message's provider
// id are applied at once.
func (s *Store) RecordAttempts(ctx context.Context, results []message.Attempt) error {
	if len(results) == 0 {
		return nil
	}
	err := s.transaction(ctx, func(tx *eventTx) error {
		// One read decides which messages an outcome may still move (a
		// message cancelled or finished meanwhile keeps its state), locked
		// on PostgreSQL so that nothing changes them before the updates.
		open, err := openMessages(tx.DB, results)
		if err != nil {
			return err
		}
		w := sortAttempts(results, open)
		if err := s.writeAttempts(tx, w); err != nil {
			return err
		}
		held, err := heldFor(tx.DB, w.accepted)
		if err != nil {
			return err
		}
		// Their webhooks go into the outbox with one insert, after the
		// message.sent events written above.
		flushOutbox := tx.collect()
		if err := applyHeld(tx, held, s.now()); err != nil {
			return err
		}
		return flushOutbox()
	})
	if err != nil {
		return fmt.Errorf("record %d attempts: %w", len(results), err)
	}
	return nil
}

// attemptWrites is what RecordAttempts writes for a batch of attempts.
type attemptWrites struct {
	// changes go into their messages' history with the outcome's update.
	changes []StatusChange
	events  []messageEvent
	// accepted are the attempts a provider accepted; unsent the ids of
	// messages that failed for good without being sent.
	accepted []message.Attempt
	unsent   []string
	// untried attempts only give their lease back; tried ones record an
	// outcome.
	untried, tried []message.Attempt
}

// sortAttempts turns the attempts on still-open messages into the rows,
// events and refunds they cause; a repeated result changes nothing more.
func sortAttempts(results []message.Attempt, open map[string]bool) attemptWrites {
	w := attemptWrites{changes: make([]StatusChange, 0, len(results)), events: make([]messageEvent, 0, len(results))}
	for _, r := range results {
		r.At, r.RetryAt = r.At.UTC(), r.RetryAt.UTC()
		if !open[r.MessageID] {
			continue
		}
		open[r.MessageID] = false // a repeated result changes nothing more
		if r.Untried {
			w.untried = append(w.untried, r)
			continue
		}
		w.tried = append(w.tried, r)
		if r.Status == message.Sent {
			w.accepted = append(w.accepted, r)
		} else if r.Status.Failure() {
			// Final without a provider's acceptance: nothing was sent.
			w.unsent = append(w.unsent, r.MessageID)
		}
		if r.Rerouted != "" {
			w.changes = append(w.changes, StatusChange{MessageID: r.MessageID, Status: message.Queued, ErrorCode: message.CodeRouted,
				Reason: r.Rerouted, Applied: true, At: r.At})
		}
		w.changes = append(w.changes, StatusChange{MessageID: r.MessageID, Status: r.Status, Provider: r.Provider,
			ErrorCode: r.Code, Reason: r.Reason, Applied: true, At: r.At})
		ev := messageEvent{MessageID: r.MessageID, Status: r.Status, ErrorCode: r.Code, Reason: r.Reason, At: r.At}
		if r.Status == message.Sent {
			ev.ErrorCode = "" // a provider's acceptance code ("OK", "200") is no error
		}
		w.events = append(w.events, ev)
	}
	return w
}

// writeAttempts writes w in tx: leases, outcomes, senders, history,
// refunds and the message events.
func (s *Store) writeAttempts(tx *eventTx, w attemptWrites) error {
	if err := releaseUntried(tx.DB, w.untried); err != nil {
		return err
	}
	h := newMessageHistory(tx.Dialector.Name())
	for _, c := range w.changes {
		h.add(c)
	}
	if err := updateOutcomes(tx.DB, w.tried, h, s.awaitsPoll); err != nil {
		return err
	}
	if err := recordSenders(tx.DB, w.accepted); err != nil {
		return err
	}
	if err := refundMessages(tx.DB, w.unsent, RefundUnsent, s.now()); err != nil {
		return err
	}
	// Before the held reports RecordAttempts applies next, so that
	// message.sent comes before the message.delivered a held report may
	// cause.
	return enqueueMessageEvents(tx, w.events)
}

// StoreEvents durably stores events a provider reported: status events move
// their message forward (never back), inbound messages are kept. Events whose
// id was stored before (in processed_events, or on the message a report
// made final) are skipped, so re-emitting is harmless.
func (s *Store) StoreEvents(ctx context.Context, provider string, events []message.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.transaction(ctx, func(tx *eventTx) error { return s.storeEvents(tx, provider, events) })
	if err != nil {
		return fmt.Errorf("store %d events: %w", len(events), err)
	}
	return nil
}

// storeEvents is StoreEvents inside the caller's transaction.
func (s *Store) storeEvents(tx *eventTx, provider string, events []message.Event) error {
	flushOutbox := tx.collect()
	if err := checkEvents(provider, events); err != nil {
		return err
	}
	now := s.now()
	firsts := firstOfEach(events)
	// The reports' messages are read (and locked) before the event ids
	// are looked at: whether a report's id needs a row depends on them
	// (eventguard.go).
	targets, err := reportTargets(tx.DB, provider, reportsOf(firsts))
	if err != nil {
		return err
	}
	fresh, err := s.freshEvents(tx.DB, provider, firsts, targets, now)
	if err != nil {
		return err
	}
	var statuses []report
	for _, ev := range fresh {
		if ev.Report != nil {
			statuses = append(statuses, report{Report: *ev.Report, learnt: now, eventID: ev.ID, guard: ev.guard})
			continue
		}
		if err := s.storeInbound(tx, provider, ev.Inbound); err != nil {
			return err
		}
	}
	unmatched, err := applyStatusesTo(tx, provider, statuses, targets, now)
	if err != nil {
		return err
	}
	if err := holdReports(tx.DB, provider, unmatched); err != nil {
		return err
	}
	return flushOutbox()
}

// checkEvents refuses a batch with an event the store cannot keep.
func checkEvents(provider string, events []message.Event) error {
	for _, ev := range events {
		switch {
		case ev.ID == "":
			return fmt.Errorf("event without id from provider %s", provider)
		case ev.Report != nil:
			if !ev.Report.Status.Valid() {
				return fmt.Errorf("event %s from provider %s: invalid status %q", ev.ID, provider, ev.Report.Status)
			}
		case ev.Inbound == nil:
			return fmt.Errorf("event %s from provider %s carries neither a status nor an inbound message", ev.ID, provider)
		}
	}
	return nil
}

// renewExpired is the conflict clause of insertEventIDs: an id whose
// duplicate window has passed is taken over by the new event.
const renewExpired = ` ON CONFLICT (provider, event_id) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE processed_events.expires_at IS NOT NULL AND processed_events.expires_at <= excluded.created_at RETURNING event_id`

// insertEventIDs inserts the rows and returns the ids that were new or
// renewed.
func insertEventIDs(tx *gorm.DB, provider string, chunk []ProcessedEvent, now time.Time) ([]string, error) {
	if tx.Dialector.Name() == DriverPostgres {
		// The ids as arrays: a VALUES list of parameters per event was
		// parsed and planned anew for every batch size.
		ids := make([]string, len(chunk))
		expires := make([]*time.Time, len(chunk))
		for i, r := range chunk {
			ids[i], expires[i] = r.EventID, r.ExpiresAt
		}
		return scanIDs(tx.Statement.ConnPool.QueryContext(tx.Statement.Context, `INSERT INTO processed_events (provider, event_id, created_at, expires_at)
SELECT $1, id, $2, exp FROM unnest($3::text[], $4::timestamptz[]) AS v(id, exp)`+renewExpired, provider, now, ids, expires))
	}
	var got []string
	args := make([]any, 0, 4*len(chunk))
	for _, r := range chunk {
		args = append(args, r.Provider, r.EventID, now, r.ExpiresAt)
	}
	q := "INSERT INTO processed_events (provider, event_id, created_at, expires_at) VALUES " + tuples(len(chunk), "(?, ?, ?, ?)") + renewExpired
	err := tx.Raw(q, args...).Scan(&got).Error
	return got, err
}

// tuples is n copies of tuple separated by commas, for a VALUES list or an
// IN list of rows.
func tuples(n int, tuple string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

// ApplyHeldStatuses applies held reports whose message has since been
// recorded with their provider id, up to limit of them, and returns how many
// it applied. RecordAttempts applies held reports at once; this catches the
// ones stored by a transaction that ran alongside it (on PostgreSQL a report
// can be held by one transaction while another records its message), so
// none stays held for good.
func (s *Store) ApplyHeldStatuses(ctx context.Context, limit int) (int, error) {
	applied := 0
	err := s.transaction(ctx, func(tx *eventTx) error {
		var held []HeldStatus
		// Servers sweeping at once take different reports (SKIP LOCKED), so
		// none is applied twice.
		// A report naming its recipient waits for a message to that number.
		if err := forUpdateSkipLocked(tx.DB).Where("EXISTS (SELECT 1 FROM messages m WHERE m.provider = held_statuses.provider AND m.provider_message_id = held_statuses.provider_message_id" +
			" AND m.provider_message_id <> '' AND (held_statuses.recipient = '' OR m.recipient = '+' || held_statuses.recipient))").
			Order("id").Limit(limit).Find(&held).Error; err != nil {
			return err
		}
		// All of them with a few statements per provider, as RecordAttempts
		// does; one by one, the sweep was a tenth of the server's CPU at
		// a few hundred messages a second.
		flushOutbox := tx.collect()
		if err := applyHeld(tx, held, s.now()); err != nil {
			return err
		}
		applied = len(held)
		return flushOutbox()
	})
	if err != nil {
		return 0, fmt.Errorf("apply held status reports: %w", err)
	}
	return applied, nil
}

// forUpdate makes tx's query lock the rows of table it reads until the
// transaction ends, on PostgreSQL (naming the table keeps the lock off the
// nullable side of an outer join). SQLite has a single writer and needs no
// row locks.
func forUpdate(tx *gorm.DB, table string) *gorm.DB {
	if tx.Dialector.Name() != DriverPostgres {
		return tx
	}
	return tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Table: clause.Table{Name: table}})
}

// forUpdateSkipLocked is forUpdate for the query's own table, leaving out
// rows another transaction holds instead of waiting for them.
func forUpdateSkipLocked(tx *gorm.DB) *gorm.DB {
	if tx.Dialector.Name() != DriverPostgres {
		return tx
	}
	return tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked})
}

// MarkPolled records that the given messages' statuses were asked for at at,
// and when each is to be asked again.
func (s *Store) MarkPolled(ctx context.Context, marks []dispatch.PollMark, at time.Time) error {
	if len(marks) == 0 {
		return nil
	}
	at = at.UTC()
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, m := range marks {
			up := map[string]any{"polled_at": at, "poll_count": gorm.Expr("poll_count + 1"), "next_poll_at": nil}
			if m.NextPollAt != nil {
				up["next_poll_at"] = m.NextPollAt.UTC()
			} else {
				// Polling gave up: the poller's index lets it go.
				up["awaiting_report_since"] = nil
			}
			if err := tx.Model(&Message{}).Where("id = ?", m.MessageID).Updates(up).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d messages polled: %w", len(marks), err)
	}
	return nil
}
