package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/recordid"
)

// Webhook delivery states, as stored (see outbox.State).
const (
	WebhookPending   = string(outbox.Pending)
	WebhookDelivered = string(outbox.Delivered)
	WebhookGaveUp    = string(outbox.GaveUp)
)

// Webhook is an account's webhook configuration: where its events go and
// the secret they are signed with. Signing needs the secret itself, so it
// cannot be hashed: the column holds it sealed with the server key (see
// Options.Keys), and the store's methods return it in the clear. It is
// shown to the account once, when generated.
type Webhook struct {
	AccountID string `gorm:"primaryKey;size:40"`
	// URL receives the account's events; empty means only messages sent
	// with their own callback_url produce webhooks.
	URL       string    `gorm:"not null;default:''"`
	Secret    string    `gorm:"size:256;not null"`
	CreatedAt time.Time `gorm:"not null"`
	// SecretRotatedAt is when the current secret was generated.
	SecretRotatedAt time.Time `gorm:"not null"`
	UpdatedAt       time.Time
}

// WebhookDelivery is one event to deliver to an application: the outbox row
// written in the transaction that caused the event, then claimed and sent
// by a webhook deliverer until the receiver answers 2xx or the deadline
// passes.
type WebhookDelivery struct {
	// Seq orders a message's events: event k+1 is not sent before event k
	// is delivered or given up. Events of one message are written in
	// transactions that update the message row first, so they serialise on
	// its lock and get increasing Seq values in the order they happened.
	Seq uint64 `gorm:"primaryKey;autoIncrement"`
	// EventID has no index: nothing looks a delivery up by it, and every
	// index costs each insert and each change of state an entry. It is
	// random (recordid.New), so unique without one.
	EventID string `gorm:"size:40;not null"`
	// AccountID has no index of its own: every query by account also
	// names the message, and each index costs the hot path an insert.
	AccountID string `gorm:"size:40;not null"`
	// MessageID is empty for account events (balance.low). Its index has
	// no other column: a message has a few deliveries, whose state is read
	// from their rows, and an index on state would take an entry each time
	// a delivery is recorded (no update of it could stay on its page).
	MessageID string `gorm:"size:40;not null;default:'';index:idx_webhook_deliveries_by_message"`
	Type      string `gorm:"size:64;not null"`
	// CallbackURL is the message's own callback_url; empty means the
	// account's URL as configured when the event is sent, so that fixing a
	// mistyped URL rescues the events still being retried.
	CallbackURL string `gorm:"not null;default:''"`
	// Payload is the exact JSON body, the same bytes on every attempt.
	Payload  string `gorm:"not null"`
	State    string `gorm:"size:16;not null"`
	Attempts int    `gorm:"not null;default:0"`
	// idx_webhook_deliveries_claimable serves the deliverer's claim: the
	// claimable deliveries in the order they are due (next_attempt_at,
	// seq), so a claim reads the first few instead of sorting every
	// pending one (docs/performance.md, second round). See Claimable.
	NextAttemptAt time.Time  `gorm:"not null"`
	LeaseUntil    *time.Time `gorm:""`
	// Handed is set on a delivery leased at its insert to the deliverer of
	// the process that wrote it (hand-over, insertDeliveries), until it is
	// given back or retried: such a delivery is in no queue index, and
	// recording it delivered changes no indexed value, so PostgreSQL
	// updates it in place (HOT). Should its process die, the sweep
	// (SweepWebhooks) finds it once its lease has run out.
	Handed bool `gorm:"not null;default:false"`
	// Claimable is a generated column (see addClaimableColumn): pending
	// and not handed over, the deliveries claims look at, leased or not.
	// Only read; the migration, not gorm, makes it.
	Claimable bool `gorm:"->;-:migration"`
	// LastStatus is the HTTP status of the latest attempt (0 when it got
	// no answer) and LastError why it failed.
	LastStatus int    `gorm:"not null;default:0"`
	LastError  string `gorm:"not null;default:''"`
	// LastDurationMS is how long the latest attempt took. The attempt that
	// delivers is kept here, in DeliveredAt and LastStatus, not as a
	// WebhookAttempt row: most deliveries succeed at once, and a row (and
	// two index entries) per event was a tenth of the database's writes.
	LastDurationMS int64 `gorm:"not null;default:0"`
	// CreatedAt has no index: the retention's prune, the only reader of
	// deliveries by age, walks the primary key instead (pruneWebhooks).
	// An index of finished deliveries took an entry when each was
	// recorded delivered, and kept that update from being HOT.
	CreatedAt   time.Time
	DeliveredAt *time.Time
	GaveUpAt    *time.Time
}

// WebhookAttempt is one HTTP request made for a delivery.
type WebhookAttempt struct {
	ID          uint64    `gorm:"primaryKey;autoIncrement"`
	DeliverySeq uint64    `gorm:"not null;index"`
	At          time.Time `gorm:"not null"`
	// HTTPStatus is 0 when the request got no answer (refused, timed out).
	HTTPStatus int    `gorm:"not null;default:0"`
	Error      string `gorm:"not null;default:''"`
	DurationMS int64  `gorm:"not null"`
}

// WebhookEvent is the JSON body of every webhook.
type WebhookEvent struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      any       `json:"data"`
}

// MessageEventData is the data of message.* events.
type MessageEventData struct {
	MessageID         string     `json:"message_id"`
	To                string     `json:"to"`
	From              string     `json:"from,omitempty"`
	Status            string     `json:"status"`
	Provider          string     `json:"provider,omitempty"`
	ProviderMessageID string     `json:"provider_message_id,omitempty"`
	ProviderStatus    string     `json:"provider_status,omitempty"`
	ErrorCode         string     `json:"error_code,omitempty"`
	Reason            string     `json:"reason,omitempty"`
	Segments          int        `json:"segments,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	SentAt            *time.Time `json:"sent_at,omitempty"`
	DeliveredAt       *time.Time `json:"delivered_at,omitempty"`
	FailedAt          *time.Time `json:"failed_at,omitempty"`
	// At is when the status in this event happened.
	At time.Time `json:"at"`
}

// InboundEventData is the data of message.received events.
type InboundEventData struct {
	MessageID         string    `json:"message_id"`
	From              string    `json:"from"`
	To                string    `json:"to"`
	Text              string    `json:"text"`
	Provider          string    `json:"provider"`
	ProviderMessageID string    `json:"provider_message_id,omitempty"`
	ReceivedAt        time.Time `json:"received_at"`
}

// OTPEventData is the data of otp.received events: the project's own
// form of otp_received, with the message it came in.
type OTPEventData struct {
	MessageID         string    `json:"message_id"`
	From              string    `json:"from"`
	To                string    `json:"to"`
	Code              string    `json:"code"`
	Text              string    `json:"text"`
	Provider          string    `json:"provider"`
	ProviderMessageID string    `json:"provider_message_id,omitempty"`
	ReceivedAt        time.Time `json:"received_at"`
}

// OTPReceivedEvent is the whole body of otp_received webhooks, in the
// virtual-number API's shape rather than WebhookEvent's: its clients parse
// exactly these fields.
type OTPReceivedEvent struct {
	Event string          `json:"event"`
	Data  OTPReceivedData `json:"data"`
}

// OTPReceivedData is the data of otp_received events.
type OTPReceivedData struct {
	PhoneNumber string `json:"phone_number"`
	OTPCode     string `json:"otp_code"`
	Provider    string `json:"provider"`
	SMSText     string `json:"sms_text"`
}

// enqueueWebhook writes an event for the account into the webhook outbox
// inside tx, the transaction that makes the event true, so the event is
// sent if and only if that transaction commits. messageID is empty for
// account events (e.g. balance.low). Nothing is written when the account has
// no webhook URL (and the message no callback_url), so accounts without
// webhooks pay one indexed read.
func enqueueWebhook(tx *eventTx, accountID, messageID string, eventType outbox.EventType, data any, at time.Time) error {
	var hook Webhook
	err := tx.Where("account_id = ?", accountID).Take(&hook).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s webhook for account %s: %w", eventType, accountID, err)
	}
	callback := ""
	if messageID != "" {
		var m Message
		err := tx.Select("callback_url").Where("id = ?", messageID).Take(&m).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("enqueue %s webhook for message %s: %w", eventType, messageID, err)
		}
		callback = m.CallbackURL
	}
	return enqueueWebhookTo(tx, hook, messageID, callback, eventType, data, at)
}

// enqueueWebhookTo is enqueueWebhook once the account's webhook
// configuration is read: callback, when set, replaces its URL (a message's
// callback_url, an inbound rule's webhook).
func enqueueWebhookTo(tx *eventTx, hook Webhook, messageID, callback string, eventType outbox.EventType, data any, at time.Time) error {
	accountID := hook.AccountID
	if hook.URL == "" && callback == "" {
		return nil
	}
	d, err := newDelivery(tx.DB, accountID, messageID, eventType, callback, data, at)
	if err != nil {
		return err
	}
	tx.out.leftForClaims = true
	if err := tx.Create(&d).Error; err != nil {
		return fmt.Errorf("enqueue %s webhook for account %s: %w", eventType, accountID, err)
	}
	return nil
}

func newDelivery(tx *gorm.DB, accountID, messageID string, eventType outbox.EventType, callback string, data any, at time.Time) (WebhookDelivery, error) {
	if at.IsZero() {
		at = time.Now()
	}
	at = at.UTC().Truncate(time.Microsecond)
	id := recordid.New("evt_")
	var event any = WebhookEvent{ID: id, Type: string(eventType), CreatedAt: at, Data: data}
	if whole, ok := data.(OTPReceivedEvent); ok {
		event = whole
	}
	body, err := json.Marshal(event)
	if err != nil {
		return WebhookDelivery{}, fmt.Errorf("encode %s webhook: %w", eventType, err)
	}
	// Due now by the store's clock, not at the event's time: a late report
	// carries an old time but is news all the same.
	now := tx.NowFunc()
	return WebhookDelivery{EventID: id, AccountID: accountID, MessageID: messageID, Type: string(eventType),
		CallbackURL: callback, Payload: string(body), State: WebhookPending, NextAttemptAt: now, CreatedAt: now}, nil
}

// messageEvent is a message's status change to tell its application about.
type messageEvent struct {
	MessageID      string
	Status         message.Status
	ProviderStatus string
	ErrorCode      string
	Reason         string
	At             time.Time
}

// webhookTargetColumns are the columns of a message that applying a report
// and writing its webhook need: not its text or routing plan, which made
// reading a batch's messages several times the work.
const webhookTargetColumns = `messages.id, messages.account_id, messages.recipient, messages.sender, messages.status,
messages.provider, messages.provider_message_id, messages.segments, messages.created_at, messages.sent_at,
messages.delivered_at, messages.failed_at, messages.error_code, messages.error_message, messages.callback_url`

// webhookTarget is a message (the webhookTargetColumns of it) with the
// webhook configuration of its account, as read by enqueueMessageEvents
// and reportTargets.
type webhookTarget struct {
	Message       `gorm:"embedded"`
	WebhookURL    string
	WebhookSecret string
}

// delivery is a message's delivery with where it goes and how it is
// signed, for handing it over as it is written.
func (t *webhookTarget) delivery(d WebhookDelivery) targetedDelivery {
	return targetedDelivery{WebhookDelivery: d, URL: deliveryURL(d, t.WebhookURL), Secret: t.WebhookSecret}
}

// deliveryURL is where d goes: its message's callback_url, else the
// account's webhook URL as configured now.
func deliveryURL(d WebhookDelivery, accountURL string) string {
	if d.CallbackURL != "" {
		return d.CallbackURL
	}
	return accountURL
}

// enqueueMessageEvents writes the outbox rows for status changes already
// applied in tx: one read for the whole batch, finding the messages whose
// account has a webhook (an inner join, so messages of accounts without one
// cost nothing further), and one multi-row insert. Its callers move
// messages out of queued or pending, statuses no event is sent for and that
// no message returns to, so each event is its message's first: none older
// can be pending, and none is looked for when handing it over.
func enqueueMessageEvents(tx *eventTx, events []messageEvent) error {
	ids := make([]string, 0, len(events))
	for _, ev := range events {
		if outbox.EventTypeFor(ev.Status) != "" {
			ids = append(ids, ev.MessageID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var targets []webhookTarget
	for chunk := range chunks(ids, 500) {
		rows, err := tx.Table("messages").Select(webhookTargetColumns+", webhooks.url AS webhook_url, webhooks.secret AS webhook_secret").
			Joins("JOIN webhooks ON webhooks.account_id = messages.account_id").
			Where("messages.id IN ? AND (webhooks.url <> '' OR messages.callback_url <> '')", chunk).
			Rows()
		if err != nil {
			return fmt.Errorf("find webhooks of %d messages: %w", len(chunk), err)
		}
		part, err := scanStructs[webhookTarget](tx.DB, rows)
		if err != nil {
			return fmt.Errorf("find webhooks of %d messages: %w", len(chunk), err)
		}
		targets = append(targets, part...)
	}
	if len(targets) == 0 {
		return nil
	}
	byID := make(map[string]*webhookTarget, len(targets))
	for i := range targets {
		byID[targets[i].ID] = &targets[i]
	}
	rows := make([]targetedDelivery, 0, len(targets))
	for _, ev := range events {
		t := byID[ev.MessageID]
		typ := outbox.EventTypeFor(ev.Status)
		if t == nil || typ == "" {
			continue
		}
		m := &t.Message
		d, err := newDelivery(tx.DB, m.AccountID, m.ID, typ, m.CallbackURL, messageEventData(m, ev), ev.At)
		if err != nil {
			return err
		}
		td := t.delivery(d)
		td.Reported = ev.Status
		rows = append(rows, td)
	}
	if err := insertDeliveries(tx, rows, true); err != nil {
		return fmt.Errorf("enqueue %d message webhooks: %w", len(rows), err)
	}
	return nil
}

func messageEventData(m *Message, ev messageEvent) MessageEventData {
	at := ev.At.UTC()
	d := MessageEventData{MessageID: m.ID, To: m.Recipient, From: m.Sender, Status: string(ev.Status),
		Provider: m.Provider, ProviderMessageID: m.ProviderMessageID, ProviderStatus: ev.ProviderStatus,
		ErrorCode: ev.ErrorCode, Reason: ev.Reason, Segments: m.Segments, CreatedAt: m.CreatedAt.UTC(),
		SentAt: utcPtr(m.SentAt), DeliveredAt: utcPtr(m.DeliveredAt), FailedAt: utcPtr(m.FailedAt), At: at}
	// The message row was read after this transaction updated it, but an
	// event applied from a held report may be read before its own columns
	// are: fill in the time of this very event.
	switch {
	case ev.Status == message.Sent && d.SentAt == nil:
		d.SentAt = &at
	case ev.Status == message.Delivered && d.DeliveredAt == nil:
		d.DeliveredAt = &at
	case ev.Status.Failure() && d.FailedAt == nil:
		d.FailedAt = &at
	}
	return d
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// NewWebhookSecret returns a fresh signing secret: "whsec_" and 64 hex
// digits (256 random bits).
func NewWebhookSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + hex.EncodeToString(b[:])
}

// GetWebhook returns the account's webhook configuration, or ErrNotFound.
func (s *Store) GetWebhook(ctx context.Context, accountID string) (account.Webhook, error) {
	var w Webhook
	if err := s.db.WithContext(ctx).Where("account_id = ?", accountID).Take(&w).Error; err != nil {
		return account.Webhook{}, fmt.Errorf("webhook of account %s: %w", accountID, notFound(err))
	}
	var err error
	if w.Secret, err = s.openSecret(accountID, w.Secret); err != nil {
		return account.Webhook{}, err
	}
	return w.domain(), nil
}

// SetWebhook stores the account's webhook URL (empty: only per-message
// callback URLs). A secret is generated when the account has none or when
// rotate is set; the returned secret is then non-empty, and empty when the
// old one was kept.
func (s *Store) SetWebhook(ctx context.Context, accountID, url string, rotate bool) (account.Webhook, string, error) {
	var (
		out    Webhook
		secret string
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		var cur Webhook
		err := tx.Clauses(lockingFor(s.driver)...).Where("account_id = ?", accountID).Take(&cur).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			secret = NewWebhookSecret()
			out = Webhook{AccountID: accountID, URL: url, Secret: s.sealSecret(accountID, secret), CreatedAt: now, SecretRotatedAt: now, UpdatedAt: now}
			// A concurrent first set by another request wins; ours then
			// fails on the primary key and the caller may retry.
			return tx.Create(&out).Error
		case err != nil:
			return err
		}
		up := map[string]any{"url": url, "updated_at": now}
		if rotate {
			secret = NewWebhookSecret()
			up["secret"], up["secret_rotated_at"] = s.sealSecret(accountID, secret), now
		}
		if err := tx.Model(&Webhook{}).Where("account_id = ?", accountID).Updates(up).Error; err != nil {
			return err
		}
		return tx.Where("account_id = ?", accountID).Take(&out).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return account.Webhook{}, "", fmt.Errorf("set webhook of account %s: %w", accountID, ErrConflict)
	}
	if err != nil {
		return account.Webhook{}, "", fmt.Errorf("set webhook of account %s: %w", accountID, err)
	}
	if out.Secret, err = s.openSecret(accountID, out.Secret); err != nil {
		return account.Webhook{}, "", fmt.Errorf("set webhook of account %s: %w", accountID, err)
	}
	return out.domain(), secret, nil
}

// DeleteWebhook removes the account's webhook URL and secret. Events still
// waiting to be sent are given up when their turn comes. It returns
// ErrNotFound when the account had none.
func (s *Store) DeleteWebhook(ctx context.Context, accountID string) error {
	res := s.db.WithContext(ctx).Where("account_id = ?", accountID).Delete(&Webhook{})
	if res.Error != nil {
		return fmt.Errorf("delete webhook of account %s: %w", accountID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete webhook of account %s: %w", accountID, ErrNotFound)
	}
	return nil
}

func lockingFor(driver string) []clause.Expression {
	if driver == DriverPostgres {
		return []clause.Expression{clause.Locking{Strength: "UPDATE"}}
	}
	return nil
}

// SetInboundOwners tells the store which account owns inbound messages to
// which number: owners maps a sender ID (a phone number, any formatting) to
// an account name. An inbound message to a number nobody owns belongs to the
// first (oldest) account. Safe to call while events are being stored (on a
// config reload).
func (s *Store) SetInboundOwners(owners map[string]string) {
	m := make(map[string]string, len(owners))
	for number, account := range owners {
		m[numberKey(number)] = account
	}
	s.inboundOwners.Store(&m)
}

// numberKey makes "+1 555-0100" and "15550100" the same key; alphanumeric
// sender IDs are kept as written.
func numberKey(s string) string {
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '+' || c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return s
		}
	}
	return string(digits)
}

// inboundAccount returns the id of the account an inbound message to
// recipient belongs to, "" when there are no accounts at all.
func (s *Store) inboundAccount(tx *gorm.DB, recipient string) (string, error) {
	name := ""
	if owners := s.inboundOwners.Load(); owners != nil {
		name = (*owners)[numberKey(recipient)]
	}
	if id, ok := s.accountIDs.Load(name); ok {
		return id.(string), nil
	}
	var acc Account
	q := tx.Select("id")
	if name != "" {
		q = q.Where("name = ?", name)
	} else {
		q = q.Order("created_at, id")
	}
	err := q.Take(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) && name != "" {
		// The configured account does not exist (yet): the first account
		// still hears about the message.
		err = tx.Select("id").Order("created_at, id").Take(&acc).Error
		name = ""
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("owner of inbound messages to %s: %w", recipient, err)
	}
	// Account ids never change and the oldest account stays the oldest, so
	// the answer can be kept for the life of the process.
	s.accountIDs.Store(name, acc.ID)
	return acc.ID, nil
}

// findCode looks for a one-time code in an inbound text with the finder
// SetCodeFinder gave, numbers.FindCode otherwise.
func (s *Store) findCode(text, sender string) (string, bool) {
	if f := s.codeFinder.Load(); f != nil {
		return (*f)(text, sender)
	}
	return numbers.FindCode(text, sender)
}

// SetCodeFinder sets how one-time codes are found in messages to leased
// numbers (otp_received webhooks).
func (s *Store) SetCodeFinder(f numbers.CodeFinder) { s.codeFinder.Store(&f) }

// targetedDelivery is a delivery row with where it goes and the secret
// (as stored: sealed) to sign it with, as an insert writes it. URL is
// empty when the account removed its webhook (and the message has no
// callback_url); Secret is empty when the account has no webhook
// configuration at all any more.
type targetedDelivery struct {
	WebhookDelivery
	URL    string
	Secret string
	// After lists, for a delivery handed over as it is written, the older
	// events of its message still pending (outbox.Pick).
	After []uint64
	// Before is the status the message stood at before the change the
	// event reports, when the writer knows it (outbox.Batch.Before), and
	// Reported the status the change moved it to (outbox.Delivery.Status);
	// both empty for account events.
	Before, Reported message.Status
}

// leased is d as the deliverer it is leased to holds it.
func (d *WebhookDelivery) leased(url, secret string, after []uint64) outbox.Delivery {
	return outbox.Delivery{Seq: d.Seq, EventID: d.EventID, AccountID: d.AccountID, MessageID: d.MessageID, Type: outbox.EventType(d.Type),
		Payload: d.Payload, Attempts: d.Attempts, CreatedAt: d.CreatedAt, URL: url, Secret: secret, After: after}
}

// ClaimWebhooks leases up to limit due webhook deliveries for lease, so that
// no other deliverer (in this or another process) takes them meanwhile, and
// counts the attempt. Only the oldest pending event of each message is due:
// its successors wait until it is delivered or given up. Deliveries of the
// accounts in skipAccounts are left alone (the caller is busy with them).
func (s *Store) ClaimWebhooks(ctx context.Context, now time.Time, limit int, lease time.Duration, skipAccounts []string) ([]outbox.Delivery, error) {
	lock := ""
	if s.driver == DriverPostgres {
		// As in ClaimDue: several servers claim disjoint batches.
		lock = " FOR UPDATE SKIP LOCKED"
	}
	now = now.UTC()
	args := []any{now.Add(lease), now, now}
	skip := ""
	if len(skipAccounts) > 0 {
		skip = " AND d.account_id NOT IN ?"
		args = append(args, skipAccounts)
	}
	args = append(args, limit)
	// The condition names claimable, the queue index's own: deliveries
	// handed over at their insert are not in it (Handed), and come back to
	// it when given back, retried, or swept (SweepWebhooks).
	// Message order (see package outbox) is written into the query, for
	// speed: the NOT EXISTS keeps a claim from leasing an event whose
	// older one is pending, which filtering afterwards could only undo
	// with a release per row.
	q := `UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1
WHERE seq IN (SELECT d.seq FROM webhook_deliveries d
  WHERE d.claimable AND d.next_attempt_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)
  AND (d.message_id = '' OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p
    WHERE p.message_id = d.message_id AND p.state = 'pending' AND ` + olderEvent + `))` + skip + `
  ORDER BY d.next_attempt_at, d.seq LIMIT ?` + lock + `)
RETURNING *`
	var rows []WebhookDelivery
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			// The table grows by thousands of rows a second under load,
			// faster than its statistics follow; with stale estimates the
			// planner sorts every pending delivery (a bitmap scan, then a
			// sort) instead of reading the queue index in order and
			// stopping at the limit, several times slower
			// (docs/performance.md, second round). The claim only makes
			// sense in index order. Both settings in one statement: one
			// round trip.
			if err := tx.Exec("SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true)").Error; err != nil {
				return err
			}
		}
		return tx.Raw(q, args...).Scan(&rows).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim due webhooks: %w", err)
	}
	return s.withTargets(s.db.WithContext(ctx), rows)
}

// withTargets adds to claimed deliveries where they go and the secret to
// sign them with, oldest first.
func (s *Store) withTargets(db *gorm.DB, rows []WebhookDelivery) ([]outbox.Delivery, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	accounts := make([]string, 0, 4)
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.AccountID] {
			seen[r.AccountID] = true
			accounts = append(accounts, r.AccountID)
		}
	}
	var hooks []Webhook
	if err := db.Where("account_id IN ?", accounts).Find(&hooks).Error; err != nil {
		return nil, fmt.Errorf("webhook configuration of %d accounts: %w", len(accounts), err)
	}
	byAccount := make(map[string]Webhook, len(hooks))
	for _, h := range hooks {
		byAccount[h.AccountID] = h
	}
	// RETURNING gives rows in no particular order; deliverers start the
	// oldest first.
	slices.SortFunc(rows, func(a, b WebhookDelivery) int { return cmp.Compare(a.Seq, b.Seq) })
	out := make([]outbox.Delivery, len(rows))
	for i := range rows {
		r := &rows[i]
		h := byAccount[r.AccountID]
		out[i] = r.leased(deliveryURL(*r, h.URL), h.Secret, nil)
	}
	s.openClaimed(out)
	return out, nil
}

// ReleaseWebhooks gives claimed deliveries back without an attempt, for a
// deliverer that claimed more than it may start.
func (s *Store) ReleaseWebhooks(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := s.db.WithContext(ctx).Model(&WebhookDelivery{}).Where("seq IN ? AND state = ?", seqs, WebhookPending).
		Updates(map[string]any{"lease_until": nil, "handed": false, "attempts": gorm.Expr("attempts - 1")}).Error
	if err != nil {
		return fmt.Errorf("release %d webhooks: %w", len(seqs), err)
	}
	s.holder.forget(seqs)
	return nil
}

// RecordWebhookResults stores attempts and their deliveries' new states in
// one transaction and releases the leases.
func (s *Store) RecordWebhookResults(ctx context.Context, results []outbox.Result) error {
	_, err := s.RecordWebhookResultsClaimNext(ctx, results, time.Time{}, 0)
	return err
}

// RecordWebhookResultsClaimNext is RecordWebhookResults that also leases,
// for lease and in the same transaction, the event each finished delivery
// (delivered or given up) that asks for it (outbox.Result.ClaimNext) held
// back: its message's next pending event, when that is due at now and no
// deliverer holds it. A deliverer gets a
// message's next event this way without a claim, which would read the
// queue past every event still held back by one in flight. With lease 0
// nothing is claimed.
func (s *Store) RecordWebhookResultsClaimNext(ctx context.Context, results []outbox.Result, now time.Time, lease time.Duration) (outbox.Recorded, error) {
	if len(results) == 0 {
		return outbox.Recorded{}, nil
	}
	var (
		next      []WebhookDelivery
		overtaken map[uint64]bool
	)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			// The driver prepares statements, and after a few runs
			// PostgreSQL may settle on a generic plan made while the table
			// was small: a sequential scan joined to the arrays, which grew
			// with the table to tens of milliseconds per batch. Planned
			// with the batch's own arrays, the update reads the key index.
			if err := tx.Exec("SET LOCAL plan_cache_mode = force_custom_plan").Error; err != nil {
				return err
			}
		}
		var err error
		if overtaken, err = recordResults(tx, results); err != nil {
			return err
		}
		if lease <= 0 {
			return nil
		}
		next, err = claimNextEvents(tx, finishedMessages(results, overtaken), now.UTC(), lease)
		return err
	})
	if err != nil {
		// Those handed over stay in this process's floor until a sweep
		// finds their lease run out.
		return outbox.Recorded{}, fmt.Errorf("record %d webhook attempts: %w", len(results), err)
	}
	recorded := make([]uint64, len(results))
	for i, r := range results {
		recorded[i] = r.Seq
	}
	s.holder.forget(recorded)
	out := outbox.Recorded{Overtaken: overtaken}
	out.Next, err = s.withTargets(s.db.WithContext(ctx), next)
	if err != nil {
		// Recorded all the same; the claimed events wait for their lease.
		return out, fmt.Errorf("claim the webhooks %d recorded ones held back: %w", len(next), err)
	}
	return out, nil
}

// recordResults stores the attempts and their deliveries' new states, and
// returns the seqs of the results that changed nothing because their claim
// was overtaken (the lease ran out and the delivery was claimed again): a
// delivery keeps its state then, and the attempt is logged.
func recordResults(tx *gorm.DB, results []outbox.Result) (overtaken map[uint64]bool, err error) {
	overtaken = map[uint64]bool{}
	attempts := make([]WebhookAttempt, 0, len(results))
	// Deliveries are the bulk of results: those with one answer are
	// recorded by one statement per batch, the rest one by one.
	delivered := map[int][]outbox.Result{}
	for _, r := range results {
		if r.State == outbox.Delivered && r.Error == "" {
			delivered[r.HTTPStatus] = append(delivered[r.HTTPStatus], r)
			continue
		}
		attempts = append(attempts, attemptOf(r))
		moved, err := recordResult(tx, r)
		if err != nil {
			return nil, err
		}
		if !moved {
			overtaken[r.Seq] = true
		}
	}
	for status, rs := range delivered {
		applied, err := recordDelivered(tx, status, rs)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if !applied[r.Seq] {
				attempts = append(attempts, attemptOf(r))
				overtaken[r.Seq] = true
			}
		}
	}
	if err := insertRows(tx, attempts); err != nil {
		return nil, err
	}
	return overtaken, nil
}

// recordResult stores a result other than a plain delivery, and reports
// whether it moved the delivery (false: its claim was overtaken).
func recordResult(tx *gorm.DB, r outbox.Result) (bool, error) {
	at := r.At.UTC()
	up := map[string]any{"state": string(r.State), "lease_until": nil, "last_status": r.HTTPStatus, "last_error": r.Error,
		"last_duration_ms": r.Duration.Milliseconds()}
	switch r.State {
	case outbox.Delivered:
		up["delivered_at"] = at
	case outbox.GaveUp:
		up["gave_up_at"] = at
	case outbox.Pending:
		// Back into the queue index for the retry's claim.
		up["next_attempt_at"], up["handed"] = r.RetryAt.UTC(), false
	default:
		return false, fmt.Errorf("webhook %d: unknown state %q", r.Seq, r.State)
	}
	res := tx.Model(&WebhookDelivery{}).Where("seq = ? AND attempts = ? AND state = ?", r.Seq, r.Attempts, WebhookPending).
		Updates(up)
	if res.Error != nil {
		return false, fmt.Errorf("webhook %d: %w", r.Seq, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// attemptOf is the attempt row of a result.
func attemptOf(r outbox.Result) WebhookAttempt {
	return WebhookAttempt{DeliverySeq: r.Seq, At: r.At.UTC(), HTTPStatus: r.HTTPStatus,
		Error: r.Error, DurationMS: r.Duration.Milliseconds()}
}

// finishedMessages are the messages of the results that finished their
// delivery and ask for their next event (outbox.Result.ClaimNext): it may
// go now.
func finishedMessages(results []outbox.Result, overtaken map[uint64]bool) []string {
	var out []string
	for _, r := range results {
		if r.MessageID != "" && r.ClaimNext && r.State.Finished() && !overtaken[r.Seq] {
			out = append(out, r.MessageID)
		}
	}
	return out
}

// claimNextEvents leases the first pending event of each message, where
// it is due at now and not leased.
func claimNextEvents(tx *gorm.DB, messageIDs []string, now time.Time, lease time.Duration) ([]WebhookDelivery, error) {
	slices.Sort(messageIDs)
	messageIDs = slices.Compact(messageIDs)
	var out []WebhookDelivery
	for chunk := range slices.Chunk(messageIDs, idChunk) {
		// A message's first pending event is the one with the smallest
		// seq; pendingDeliveries reads them with one statement text on
		// PostgreSQL, whatever the number of messages.
		nextReads.Add(1)
		pending, err := pendingDeliveries(tx, chunk)
		if err != nil {
			return nil, fmt.Errorf("find the next webhooks of %d messages: %w", len(chunk), err)
		}
		var firsts []uint64
		for _, id := range chunk {
			if seqs := pending[id]; len(seqs) > 0 {
				firsts = append(firsts, slices.Min(seqs))
			}
		}
		if len(firsts) == 0 {
			continue
		}
		// The lease is checked again in the update: another deliverer may
		// have claimed the event since the read. An event handed over to
		// a deliverer whose lease ran out is claimed like any other: into
		// the queue index (handed = false).
		var got []WebhookDelivery
		// The state is written into the statement (see pendingDeliveries).
		err = tx.Raw(`UPDATE webhook_deliveries SET lease_until = ?, attempts = attempts + 1, handed = false
WHERE seq IN ? AND state = '`+WebhookPending+`' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)
RETURNING *`, now.Add(lease), firsts, now, now).Scan(&got).Error
		if err != nil {
			return nil, fmt.Errorf("claim the next webhooks of %d messages: %w", len(chunk), err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// NextWebhookDue returns when the earliest webhook a deliverer could claim
// becomes due, or false when there is none: the oldest pending event of each
// message, not leased. Leases that run out (a deliverer died) are left to
// the deliverers' polling.
func (s *Store) NextWebhookDue(ctx context.Context) (time.Time, bool, error) {
	var d WebhookDelivery
	res := nextDue(s.db.WithContext(ctx), &d)
	if err := res.Error; err != nil {
		return time.Time{}, false, fmt.Errorf("next due webhook: %w", err)
	}
	if res.RowsAffected == 0 {
		return time.Time{}, false, nil
	}
	return d.NextAttemptAt, true, nil
}

// olderEvent is the condition, in a probe p for the pending events of
// delivery d's message, that p is older than d. The seq is written so
// that no index can serve it ("+ 0"): on a big table never analyzed the
// planner took it for an index condition too and ANDed the message index
// with a range of the primary key, reading half the table's keys per
// probe (docs/performance.md). A message has a few events; the message
// index finds them all.
const olderEvent = "p.seq + 0 < d.seq"

// nextDue reads into d the earliest claimable delivery not held back by an
// older event of its message.
func nextDue(tx *gorm.DB, d *WebhookDelivery) *gorm.DB {
	q := tx.Table("webhook_deliveries AS d").Select("d.next_attempt_at").
		// claimable, as in ClaimWebhooks: only then can SQLite (and
		// PostgreSQL in a generic plan) use the partial queue index.
		Where("d.claimable AND d.lease_until IS NULL").
		Where("d.message_id = '' OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.message_id = d.message_id AND p.state = 'pending' AND " + olderEvent + ")")
	return q.Order("d.next_attempt_at").Limit(1).Scan(d)
}

// MessageWebhooks returns the account's webhook deliveries for a message,
// in the order they are sent, each with its attempts.
func (s *Store) MessageWebhooks(ctx context.Context, accountID, messageID string) ([]outbox.Logged, error) {
	db := s.db.WithContext(ctx)
	var ds []WebhookDelivery
	if err := db.Where("account_id = ? AND message_id = ?", accountID, messageID).Order("seq").Find(&ds).Error; err != nil {
		return nil, fmt.Errorf("webhooks of message %s: %w", messageID, err)
	}
	if len(ds) == 0 {
		return []outbox.Logged{}, nil
	}
	seqs := make([]uint64, len(ds))
	for i, d := range ds {
		seqs[i] = d.Seq
	}
	var as []WebhookAttempt
	if err := db.Where("delivery_seq IN ?", seqs).Order("id").Find(&as).Error; err != nil {
		return nil, fmt.Errorf("webhook attempts of message %s: %w", messageID, err)
	}
	out := make([]outbox.Logged, len(ds))
	idx := make(map[uint64]int, len(ds))
	for i, d := range ds {
		out[i] = d.logged()
		idx[d.Seq] = i
	}
	for _, a := range as {
		i := idx[a.DeliverySeq]
		out[i].AttemptLog = append(out[i].AttemptLog, a.domain())
	}
	for i, d := range ds {
		// The delivering attempt is kept in the delivery itself; deliveries
		// recorded before that have a row for it, as for every attempt.
		if d.State != WebhookDelivered || d.DeliveredAt == nil || len(out[i].AttemptLog) >= d.Attempts {
			continue
		}
		out[i].AttemptLog = append(out[i].AttemptLog, outbox.Attempt{At: *d.DeliveredAt, HTTPStatus: d.LastStatus,
			DurationMS: d.LastDurationMS})
	}
	return out, nil
}

// collect makes the webhook rows addDelivery is given from now on wait,
// for paths that apply status changes one by one, so that the rows go in
// with one multi-row insert instead of one statement each. It returns the
// function that inserts them; it must be called before the transaction
// commits. Inside a tx already collecting, both change nothing.
func (tx *eventTx) collect() (flush func() error) {
	if tx.out.collecting {
		return func() error { return nil }
	}
	tx.out.collecting = true
	return func() error {
		tx.out.collecting = false
		rows := tx.out.rows
		tx.out.rows = nil
		if len(rows) == 0 {
			return nil
		}
		if err := insertDeliveries(tx, rows, false); err != nil {
			return fmt.Errorf("enqueue %d webhooks: %w", len(rows), err)
		}
		return nil
	}
}

// addDelivery writes d into the outbox: into the rows collected, else at
// once.
func addDelivery(tx *eventTx, d targetedDelivery) error {
	if tx.out.collecting {
		tx.out.rows = append(tx.out.rows, d)
		return nil
	}
	return insertDeliveries(tx, []targetedDelivery{d}, false)
}

// recordDelivered marks delivered webhooks that got the same HTTP status,
// each with its own time and duration, guarded like the one-by-one update:
// only a delivery still pending under the same claim (attempt count)
// moves. It returns the seqs it moved. On PostgreSQL the rows' values
// travel as arrays joined by seq (see updateMessages: a CASE per row was
// most of the statement's time).
func recordDelivered(tx *gorm.DB, status int, rs []outbox.Result) (map[uint64]bool, error) {
	applied := make(map[uint64]bool, len(rs))
	for chunk := range slices.Chunk(rs, idChunk) {
		seqs, attempts, ms := make([]int64, len(chunk)), make([]int64, len(chunk)), make([]int64, len(chunk))
		ats := make([]time.Time, len(chunk))
		for i, r := range chunk {
			seqs[i], attempts[i], ats[i], ms[i] = int64(r.Seq), int64(r.Attempts), r.At.UTC(), r.Duration.Milliseconds()
		}
		var moved []uint64
		var err error
		if tx.Dialector.Name() == DriverPostgres {
			var rows *sql.Rows
			rows, err = tx.Statement.ConnPool.QueryContext(tx.Statement.Context, `UPDATE webhook_deliveries d
SET state = $1, lease_until = NULL, last_status = $2, last_error = '', delivered_at = v.at, last_duration_ms = v.ms
FROM unnest($3::bigint[], $4::bigint[], $5::timestamptz[], $6::bigint[]) AS v(seq, attempts, at, ms)
WHERE d.seq = v.seq AND d.attempts = v.attempts AND d.state = $7
RETURNING d.seq`, WebhookDelivered, status, seqs, attempts, ats, ms, WebhookPending)
			if err == nil {
				for rows.Next() {
					var seq uint64
					if err = rows.Scan(&seq); err != nil {
						break
					}
					moved = append(moved, seq)
				}
				rows.Close()
				if err == nil {
					err = rows.Err()
				}
			}
		} else {
			moved, err = recordDeliveredSQLite(tx, status, seqs, attempts, ats, ms)
		}
		if err != nil {
			return nil, fmt.Errorf("record %d delivered webhooks: %w", len(chunk), err)
		}
		for _, seq := range moved {
			applied[seq] = true
		}
	}
	return applied, nil
}

// recordDeliveredSQLite is recordDelivered's update on SQLite: the rows'
// values as a VALUES table joined by seq (see updateMessagesSQLite), in
// statements of sqliteRows rows.
func recordDeliveredSQLite(tx *gorm.DB, status int, seqs, attempts []int64, ats []time.Time, ms []int64) ([]uint64, error) {
	var moved []uint64
	per := sqliteRows(4)
	for start := 0; start < len(seqs); start += per {
		end := min(len(seqs), start+per)
		// v's columns are not named as the table's: RETURNING may not name
		// a joined table's columns, so seq must be unambiguous.
		with, args := valuesTable([]string{"k", "n", "at", "ms"}, seqs[start:end], attempts[start:end], ats[start:end], ms[start:end])
		// The states are written into the statement (see pendingDeliveries).
		args = append(args, status)
		q := with + ` UPDATE webhook_deliveries SET state = '` + WebhookDelivered + `', lease_until = NULL, last_status = ?, last_error = '',
delivered_at = v.at, last_duration_ms = v.ms FROM v WHERE seq = v.k AND attempts = v.n AND state = '` + WebhookPending + `' RETURNING seq`
		var got []uint64
		if err := tx.Raw(q, args...).Scan(&got).Error; err != nil {
			return nil, err
		}
		moved = append(moved, got...)
	}
	return moved, nil
}
