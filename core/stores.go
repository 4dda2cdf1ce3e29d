package core

import (
	"context"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// The repositories the service keeps its records in, each as small as one
// use needs; the store is all of them (see Stores).

// MessageBook reads and cancels the account's messages.
type MessageBook interface {
	MessageView(ctx context.Context, accountID, id string) (message.View, error)
	MessageViews(ctx context.Context, accountID string, ids []string) ([]message.View, error)
	ListMessageSummaries(ctx context.Context, accountID string, f message.Filter) ([]message.Summary, string, error)
	ExportMessages(ctx context.Context, accountID string, f message.Filter, max int,
		start func(next string) error, each func(message.Summary) error) error
	CancelMessageView(ctx context.Context, accountID, id string, now time.Time) (message.View, error)
	// MessageDetail reads one message with its history; accountID ""
	// reads any account's.
	MessageDetail(ctx context.Context, accountID, id string) (message.Detail, error)
}

// OTPBook keeps one-time codes with the messages that carry them.
type OTPBook interface {
	CreateOTP(ctx context.Context, code intake.OTPCode, msg *intake.Message, limit int, window time.Duration) error
	VerifyOTP(ctx context.Context, accountID, phone string, maxAttempts int, match func(intake.OTPCode) bool) (bool, error)
}

// AccountBook reads and changes accounts.
type AccountBook interface {
	AccountByID(ctx context.Context, id string) (account.Account, error)
	AccountByName(ctx context.Context, name string) (account.Account, error)
	EnsureAccount(ctx context.Context, name string) (account.Account, error)
	SetMessageBodies(ctx context.Context, accountID string, p account.MessageBodies) (account.Account, error)
	// FirstAccount is the oldest account; an error wrapping
	// account.ErrNotFound when there is none.
	FirstAccount(ctx context.Context) (account.Account, error)
	ListAccounts(ctx context.Context) ([]account.Account, error)
}

// KeyRing keeps API keys.
type KeyRing interface {
	Authenticate(ctx context.Context, raw string) (account.APIKey, error)
	ListAPIKeys(ctx context.Context, accountID string) ([]account.APIKey, error)
	APIKeyByID(ctx context.Context, id string) (account.APIKey, error)
	CreateAPIKey(ctx context.Context, accountID, name string, perms []string) (string, account.APIKey, error)
	SetAPIKeySMSPerMinute(ctx context.Context, id string, n int) (account.APIKey, error)
	RevokeAPIKey(ctx context.Context, id string) error
}

// OverviewBook counts what the overview shows: messages per minute, the
// queue and the webhook backlog; accountID "" counts every account's.
type OverviewBook interface {
	MessagesPerMinute(ctx context.Context, accountID string, since time.Time) ([]message.MinuteCount, error)
	QueueDepth(ctx context.Context, accountID string) (message.Queue, error)
	WebhookBacklog(ctx context.Context, accountID string) (message.WebhookBacklog, error)
}

// Ledger keeps the accounts' credit.
type Ledger interface {
	Ledger(ctx context.Context, accountID string, p account.LedgerPage) ([]account.LedgerEntry, string, error)
	AddCredit(ctx context.Context, accountID string, amount money.Amount, reason string) (account.LedgerEntry, error)
	SetCreditLimit(ctx context.Context, accountID string, limit *money.Amount) error
	SetLowBalance(ctx context.Context, accountID string, threshold *money.Amount) error
}

// WebhookBook keeps the accounts' webhook settings and what became of
// the webhooks sent for their messages.
type WebhookBook interface {
	GetWebhook(ctx context.Context, accountID string) (account.Webhook, error)
	SetWebhook(ctx context.Context, accountID, url string, rotate bool) (account.Webhook, string, error)
	DeleteWebhook(ctx context.Context, accountID string) error
	MessageWebhooks(ctx context.Context, accountID, messageID string) ([]outbox.Logged, error)
}

// InboundBook reads the messages handsets sent to the accounts' numbers.
type InboundBook interface {
	ListInbound(ctx context.Context, accountID string, f inbound.Filter) ([]inbound.Message, string, error)
	GetInbound(ctx context.Context, accountID, id string) (inbound.Message, error)
}

// NumberBook keeps the inventory of numbers to receive on and their
// leases (core/numbers has the rules).
type NumberBook interface {
	AddNumber(ctx context.Context, n numbers.Number) error
	RetireNumber(ctx context.Context, e164 string) error
	GetNumber(ctx context.Context, e164 string) (numbers.Number, error)
	ListNumbers(ctx context.Context, f numbers.Filter) ([]numbers.Number, error)
	NumberOperators(ctx context.Context) ([]numbers.Operator, error)
	NumberCountries(ctx context.Context) ([]string, error)
	AssignNumber(ctx context.Context, req numbers.Request, lease time.Duration, price func(numbers.Number) money.Amount) (numbers.Number, error)
	ReleaseNumber(ctx context.Context, accountID, e164 string, quarantineUntil time.Time, refundUnused bool) (numbers.Number, error)
	ExtendNumber(ctx context.Context, accountID, e164 string, until time.Time) (numbers.Number, error)
	NumberMessages(ctx context.Context, accountID, e164 string, limit int) ([]inbound.Message, error)
	ExplainInbound(ctx context.Context, provider string, in *inbound.Message) (inbound.Explanation, error)
}

// RateCounter counts requests against limits shared by every server.
type RateCounter interface {
	TakeRate(ctx context.Context, bucket string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// IdempotencyBook finds the answers kept for Idempotency-Keys.
type IdempotencyBook interface {
	IdempotencyRecordFor(ctx context.Context, accountID, key string) (intake.Idempotency, error)
}

// Database is the database behind the repositories.
type Database interface {
	Ping(ctx context.Context) error
	// Unavailable reports whether err means the database could not be
	// reached, rather than refusing what was asked of it.
	Unavailable(err error) bool
}

// Stores is every repository the service uses; the store implements it.
type Stores interface {
	Accepter
	MessageBook
	OTPBook
	AccountBook
	KeyRing
	Ledger
	WebhookBook
	InboundBook
	NumberBook
	RateCounter
	IdempotencyBook
	Database
	OverviewBook
}
