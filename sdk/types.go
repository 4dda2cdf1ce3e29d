package sdk

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Encoding is the character set a message's text is sent in.
type Encoding string

const (
	// EncodingGSM7 is the GSM 03.38 default alphabet (with its extension table).
	EncodingGSM7 Encoding = "gsm7"
	// EncodingUCS2 is UTF-16BE; used when any character is outside GSM 03.38.
	EncodingUCS2 Encoding = "ucs2"
)

// Message is one SMS the host asks a provider to send. A long message is still
// one Message: the host has already counted its segments, and the provider
// splits it the way its upstream expects.
type Message struct {
	// ID is the host's message id ("msg_..."); results and events refer to it.
	ID string
	// To is the destination in E.164 form, e.g. "+959123456789".
	To string
	// From is the sender: an alphanumeric name, a short code or an E.164
	// number. Empty means the provider's default sender.
	From string
	// Text is the message body as UTF-8.
	Text string
	// Encoding is the encoding the host counted segments with.
	Encoding Encoding
	// Segments is the number of SMS parts the host expects the text to take.
	Segments int
	// Kind says what the message is for: "sms", "otp", "transactional", "marketing".
	Kind string
	// Metadata carries free-form key/value tags from the application.
	Metadata map[string]string
	// ValidUntil is when the message stops being worth delivering: the host
	// reports it expired then. Zero means no validity was given.
	//
	// A provider whose upstream takes a validity period (SMPP
	// validity_period, an HTTP API's TTL parameter) should pass it on,
	// computed as late as possible before submitting, so the operator's
	// network stops retrying when the host has given up; without it the
	// network keeps trying for its own default period (often 48 h).
	//
	// The host never starts a Send for a message whose ValidUntil has
	// passed; it records such a message expired itself. A provider that
	// holds messages before submitting them (an internal queue or window)
	// must not submit one whose ValidUntil passed meanwhile: answer it
	// Expired, and the host records it expired. Do not answer Permanent,
	// which records failed.
	ValidUntil time.Time
}

// Outcome classifies what happened to one message in a Send call.
type Outcome int

const (
	// Accepted means the provider took the message; ProviderMessageID is set.
	Accepted Outcome = iota + 1
	// Temporary means the provider could not take the message now (throttled,
	// queue full, upstream down). The host retries it, possibly at another
	// provider.
	Temporary
	// Permanent means the provider will never take this message (invalid
	// number, barred sender). The host fails it without retrying.
	Permanent
	// OutcomeExpired means the message's validity (Message.ValidUntil)
	// passed before the provider could submit it. The host records it
	// expired and never retries it. Build it with Expired.
	OutcomeExpired
	// OutcomeUnavailable means the provider cannot take any message now
	// (upstream down, maintenance, connection lost): nothing is wrong with
	// the message. The host sends it on to the route's next provider at
	// once, and retries it later when none is left. Build it with
	// Unavailable.
	OutcomeUnavailable
	// OutcomeAccountError means the upstream refused the provider's
	// account: credentials rejected, account suspended or out of credit.
	// Nothing is wrong with the message, but no message will go through
	// until an operator acts, so the host fails it over like
	// OutcomeUnavailable and also reports the provider unhealthy with the
	// reason for a while (see docs/plugins.md). Build it with AccountError.
	OutcomeAccountError
)

// String returns the outcome's lower-case name.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case OutcomeExpired:
		return "expired"
	case OutcomeUnavailable:
		return "unavailable"
	case OutcomeAccountError:
		return "account_error"
	}
	return "invalid"
}

// Retried reports whether the host tries a message with this outcome again
// (here or at another provider): Temporary, OutcomeUnavailable and
// OutcomeAccountError.
func (o Outcome) Retried() bool {
	return o == Temporary || o == OutcomeUnavailable || o == OutcomeAccountError
}

// SendResult is the provider's answer for one message of a batch. Send returns
// exactly one SendResult per Message, in the order the messages were given.
type SendResult struct {
	// MessageID repeats Message.ID so results can be checked against messages.
	MessageID string
	Outcome   Outcome
	// ProviderMessageID is the upstream's id for the message when Accepted. Status
	// events are matched to messages by (provider, ProviderMessageID).
	ProviderMessageID string
	// Code is the provider's raw result code (an SMPP command_status, an HTTP
	// status, an error code), kept for operators.
	Code string
	// Reason is a human-readable explanation for Temporary and Permanent results.
	Reason string
	// RetryAfter, when set on a Temporary result, is how long the provider asked
	// us to wait before trying again (see RetryAfter and ParseRetryAfter).
	RetryAfter time.Duration
	// Sender, on an Accepted result for a message without From, is the
	// sender the provider used (its configured default), so the host can
	// show which sender the recipient saw. Empty when unknown.
	Sender string
	// Refusal says, for a Permanent result, why in words every plugin
	// shares, where Code keeps the upstream's own; empty means
	// RefusalRejected. Operators list refusals in failover_on to send such
	// a message on to a route's next candidate instead of failing it.
	Refusal Refusal
}

// Refusal classifies a provider's permanent refusal of a message. Plugins
// map their upstream's codes onto these; routes and providers name them in
// failover_on.
type Refusal string

// The refusals a plugin may give. A refusal that says something about the
// message at this provider (a sender not registered with it, a destination
// it does not serve) is worth failing over on; one that says the message is
// wrong everywhere (INVALID_DESTINATION for a number that does not exist)
// usually is not.
const (
	// RefusalRejected is any refusal without a more specific class.
	RefusalRejected Refusal = "REJECTED"
	// RefusalInvalidSender: the sender (alphanumeric ID, number) is not
	// registered or not allowed at this provider, or none was given and
	// the provider has no default.
	RefusalInvalidSender Refusal = "INVALID_SENDER"
	// RefusalInvalidDestination: the provider refuses the recipient's
	// number (malformed, unknown, or a range it does not serve).
	RefusalInvalidDestination Refusal = "INVALID_DESTINATION"
	// RefusalInvalidMessage: the text, encoding or length cannot be sent
	// through this provider.
	RefusalInvalidMessage Refusal = "INVALID_MESSAGE"
	// RefusalBlocked: the recipient opted out or is barred, or the
	// content was filtered.
	RefusalBlocked Refusal = "BLOCKED"
	// RefusalUnauthorized: the provider refused our credentials or the
	// account is suspended or out of credit.
	RefusalUnauthorized Refusal = "UNAUTHORIZED"
	// RefusalDuplicate: the provider has the message already (it refused
	// it as a duplicate) or may have it (its answer was unreadable). Such a
	// message is never failed over: another provider would send it twice.
	RefusalDuplicate Refusal = "DUPLICATE"
)

// Refusals lists every Refusal, for validating configuration.
func Refusals() []Refusal {
	return []Refusal{RefusalRejected, RefusalInvalidSender, RefusalInvalidDestination, RefusalInvalidMessage,
		RefusalBlocked, RefusalUnauthorized, RefusalDuplicate}
}

// RefusalOf is the refusal a result stands for: its Refusal, or
// RefusalRejected when the plugin gave none.
func (r SendResult) RefusalOf() Refusal {
	if r.Refusal == "" {
		return RefusalRejected
	}
	return r.Refusal
}

// Status is a message's normalised delivery status.
type Status string

// The normalised statuses. Status only moves forward:
// queued → sent → one of the final statuses.
const (
	// StatusQueued reports that the upstream holds the message and has
	// not sent it on yet (an SMSC's SCHEDULED, Twilio's "queued"); the
	// host already counts the message as sent, so it moves nothing.
	StatusQueued Status = "queued"
	// Deprecated: StatusPending is the host's own state (a message waiting
	// for another attempt), never a provider's report; no plugin needs it.
	// It stays so that existing plugins keep compiling.
	StatusPending       Status = "pending"
	StatusSent          Status = "sent"
	StatusDelivered     Status = "delivered"
	StatusFailed        Status = "failed"
	StatusExpired       Status = "expired"
	StatusRejected      Status = "rejected"
	StatusUndeliverable Status = "undeliverable"
	StatusUnknown       Status = "unknown"
)

// Final reports whether no later report may move a message out of s. Unknown is
// soft-terminal: a later definite report may still replace it.
func (s Status) Final() bool {
	switch s {
	case StatusDelivered, StatusFailed, StatusExpired, StatusRejected, StatusUndeliverable:
		return true
	}
	return false
}

// Valid reports whether s is one of the normalised statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusPending, StatusSent, StatusDelivered, StatusFailed,
		StatusExpired, StatusRejected, StatusUndeliverable, StatusUnknown:
		return true
	}
	return false
}

// StatusEvent is a delivery report: the provider telling us what happened to a
// message it accepted.
type StatusEvent struct {
	// ProviderMessageID is the id the provider returned in SendResult.
	ProviderMessageID string
	// Status is the normalised status.
	Status Status
	// ProviderStatus is the provider's own word for it ("DELIVRD", "undelivered").
	ProviderStatus string
	// ErrorCode is the provider's or network's error code, if any.
	ErrorCode string
	// At is when the provider says the status was reached, by its own
	// clock (an SMPP receipt's "done date" has minute precision). The host
	// keeps it as the report's provider time; the message's delivered_at
	// and failed_at are when the host learnt of the status.
	At time.Time
	// Recipient is the number the message was sent to, as the report gives
	// it (an SMPP receipt's source_addr), or "". Providers that reuse ids
	// (an SMSC restarting its counter) set it so the host can tell apart
	// the messages an id was given to.
	Recipient string
}

// InboundEvent is a message a handset sent to one of our numbers (MO).
type InboundEvent struct {
	// ProviderMessageID is the provider's id for the inbound message, if any.
	ProviderMessageID string
	From              string
	To                string
	Text              string
	At                time.Time
}

// Event is what a provider reports outside a Send call: exactly one of Status
// or Inbound is set. ID identifies the event so the host can drop duplicates;
// it must be stable when the same report is emitted again (for example the
// upstream's own report id, or provider message id plus status).
type Event struct {
	ID      string
	Status  *StatusEvent
	Inbound *InboundEvent
	// DuplicateWindow, when not zero, is how long the host takes another
	// event with the same ID for a repeat of this one. Set it when ID is
	// made from the event's content (a hash of the PDU) rather than
	// assigned by the upstream: the same content may legitimately come
	// again later (a handset sending "YES" twice). Zero: the host's
	// retention for event ids (30 days by default).
	DuplicateWindow time.Duration
}

// Balance is the provider account's credit as the upstream reports it.
type Balance struct {
	Amount   float64
	Currency string
}

// SenderID is a sender the provider account may use.
type SenderID struct {
	// Value is the sender as it appears on the handset: "MyShop", "12345", "+14155550100".
	Value string
	// Kind is "alphanumeric", "shortcode" or "number".
	Kind string
}

// OutboxMessage is a message a provider that sends nothing for real (the
// sandbox) took, kept for people testing against it to read.
type OutboxMessage struct {
	MessageID         string // the host's message id
	ProviderMessageID string
	To                string
	From              string // the sender used: the message's, or the provider's default
	Text              string
	Kind              string
	Segments          int
	SentAt            time.Time
}

// Health is a provider's view of its upstream link.
type Health struct {
	// OK is false when the provider cannot send now (bind refused, upstream down).
	OK bool
	// Detail explains the state for operators: "bound 2/2", "login refused: wrong password".
	Detail string
	// RefuseWhileDown asks the host to refuse, at accept, a message whose
	// route plan has no candidate left but providers that are down and
	// set it: the client is answered 503 "No gateway online" at once
	// instead of the message waiting for the provider to come back (an
	// Android gateway's when_offline = "refuse"). It has effect only while
	// OK is false.
	RefuseWhileDown bool
}

// Info describes a provider implementation.
type Info struct {
	// Name is the plugin kind, e.g. "smpp".
	Name string
	// Version is the plugin's own version.
	Version string
	// MaxBatchSize is the most messages the host passes to one Send call. Zero
	// means 1.
	MaxBatchSize int
}

// Capabilities is what the host learns about a provider at start: its Info and
// which optional interfaces it implements.
type Capabilities struct {
	Info
	Events      bool // implements EventSource
	Hooks       bool // implements HookHandler
	Health      bool // implements HealthChecker
	Balance     bool // implements BalanceReporter
	SenderIDs   bool // implements SenderIDLister
	StatusQuery bool // implements StatusQuerier
	Outbox      bool // implements OutboxReader
	SentQuery   bool // implements SentQuerier
	Numbers     bool // implements NumberLister
	Devices     bool // implements DeviceReporter
	Revoke      bool // implements DeviceRevoker
	Tune        bool // implements Tuner
	Networks    bool // implements NetworkReporter

	SettingsValidation bool // implements SettingsValidator
}

// ReceivingNumber is a number messages reach a provider on.
type ReceivingNumber struct {
	// Number is E.164, e.g. "+959123456789", or a short code's digits.
	Number string
	// Country is the ISO 3166 alpha-2 country of a short code; E.164
	// numbers may leave it empty.
	Country string
	// CanSend says the provider can also send from the number.
	CanSend bool
}

// Config is what the host gives a provider before its first Send.
type Config struct {
	// Name is the configured provider's name, e.g. "smpp-eu-1".
	Name string
	// Settings is the provider block's "config" attribute as a JSON object.
	// Unmarshal it into your own settings struct; reject what you cannot use.
	Settings json.RawMessage
	// HookURL is the public URL under which the host forwards HTTP hooks to this
	// provider, e.g. "https://gw.example.com/api/v1/providers/twilio-1/hooks".
	// Providers that ask an upstream to call back (status callbacks) use it.
	HookURL string
	// Logger writes to the host's log, tagged with the provider name. It is
	// never nil when the host or Serve calls Configure; use Log to read it
	// without checking.
	Logger hclog.Logger
}

// Log returns c.Logger, or a logger that discards everything when it is
// nil (a test that builds a Config by hand), so a provider never needs a
// fallback of its own.
func (c Config) Log() hclog.Logger {
	if c.Logger == nil {
		return hclog.NewNullLogger()
	}
	return c.Logger
}

// HookRequest is an HTTP request the host received for this provider under
// /api/v1/providers/{name}/hooks/*.
type HookRequest struct {
	Method string
	// URL is the full original URL as the caller used it (scheme, host, path and
	// query), which signature schemes such as Twilio's need.
	URL string
	// Path is the part after ".../hooks", starting with "/" (e.g. "/status").
	Path       string
	Header     http.Header
	Body       []byte
	RemoteAddr string
}
