package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/routing"
)

// Limits on what an application may send.
const (
	// MaxSenderLength is the longest numeric sender; alphanumeric senders
	// are limited to 11 characters by the GSM spec.
	MaxSenderLength = 16
	// DefaultValidity is how long we keep trying to hand a message to a
	// provider before it expires.
	DefaultValidity = 24 * time.Hour
)

// InputError is a request the caller must fix; the API answers it with 422.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// ErrNotFound is returned for a message id the account does not have.
var ErrNotFound = account.ErrNotFound

// Planner chooses the ordered candidate providers for a message.
type Planner interface {
	// PlanAt decides with the time facts (hour, weekday, …) and any hold
	// read at at: now for a message sent at once, its send_at for a
	// scheduled one.
	PlanAt(ctx context.Context, f routing.Facts, at time.Time) (routing.Plan, error)
}

// Waker is told when new messages are due; the dispatcher implements it.
type Waker interface{ Wake() }

// Service is the domain entry point the HTTP API calls.
type Service struct {
	store    Stores
	planner  Planner
	waker    Waker
	log      hclog.Logger
	validity time.Duration
	now      func() time.Time
	api      config.API
	otp      config.OTP
	state    routing.StateSource
	names    accountNames
	accepter Accepter
	counter  AcceptedCounter // nil when nobody counts
	// egress is where callback_url may point (nil: public addresses only).
	egress *egress.Policy
	// numbers leases and prices numbers to receive on.
	numbers NumberOptions
	// webhooks sends test events (nil: none).
	webhooks WebhookTrier
}

// Options configure a Service.
type Options struct {
	Logger   hclog.Logger
	Validity time.Duration
	Now      func() time.Time
	// API sets the maximum segments, the duplicate window and the allowed
	// senders; nil means 10 segments, no duplicate suppression and any
	// sender.
	API *config.API
	// OTP sets code length, lifetime and text; nil means the defaults.
	OTP *config.OTP
	// State tells OTP sends whether any provider of the route is healthy;
	// nil means all are.
	State routing.StateSource
	// Accepter stores accepted messages; nil means the store, one
	// transaction per request. The store's Batcher shares commits.
	Accepter Accepter
	// Counter, when set, is told of every message accepted (the metrics).
	Counter AcceptedCounter
	// Egress says which addresses a callback_url may point to; nil means
	// public addresses only. The webhook deliverer should use the same.
	Egress *egress.Policy
	// Numbers leases and prices numbers to receive on; the zero value
	// leases for numbers.DefaultLease at no charge.
	Numbers NumberOptions
	// Webhooks sends the test events of POST /api/v1/webhook/test; nil
	// answers them with ErrNoWebhookTrier.
	Webhooks WebhookTrier
}

// NewService returns a Service over the repositories (the store) and the
// routing planner. waker may be nil.
func NewService(st Stores, planner Planner, waker Waker, o Options) *Service {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Validity <= 0 && o.API != nil {
		o.Validity = o.API.DefaultValidity
	}
	if o.Validity <= 0 {
		o.Validity = DefaultValidity
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{store: st, planner: planner, waker: waker, log: o.Logger.Named("core"), validity: o.Validity, now: o.Now,
		api: config.DefaultAPI(), otp: config.DefaultOTP(), state: o.State}
	s.api.DuplicateWindow = 0
	if o.API != nil {
		s.api = *o.API
	}
	if o.OTP != nil {
		s.otp = *o.OTP
	}
	s.egress = o.Egress
	s.numbers = o.Numbers
	s.numbers.Policy = o.Numbers.Policy.OrDefaults()
	s.accepter = o.Accepter
	if s.accepter == nil {
		s.accepter = st
	}
	s.counter = o.Counter
	s.webhooks = o.Webhooks
	return s
}

// SendRequest is one message an application asks us to send.
type SendRequest struct {
	To      string
	Message string
	From    string
	Kind    message.Kind
	// Tags are free-form labels routing rules can read as tags.
	Tags map[string]string
	// Idempotency, when set, makes the send replay-safe.
	Idempotency *Idempotency
	// SendAt, when set, schedules the message: no provider gets it
	// before. It may lie up to ScheduleSkew in the past (sent at once) and
	// at most the api block's max_schedule_ahead in the future.
	SendAt time.Time
	// Validity, when set, is how long from its send time the message may
	// wait for a provider to accept it before it expires; zero means the
	// api block's default_validity. At most max_validity.
	Validity time.Duration
	// CallbackURL, when set, receives this message's webhooks instead of
	// the account's webhook URL; the account must have a webhook secret.
	CallbackURL string
}

// ScheduleSkew is how far in the past a send_at may lie and still be
// taken as "now": the caller's clock and the request's way here may lag.
const ScheduleSkew = time.Minute

// Facts checks a request and computes the routing facts of its message:
// number facts (E.164, country, operator, line type), encoding and
// segments. Errors are *InputError. The message id is left empty.
func Facts(accountID string, req SendRequest) (routing.Facts, error) {
	switch {
	case strings.TrimSpace(req.To) == "":
		return routing.Facts{}, &InputError{"to is required: the recipient in international format, e.g. +959123456789"}
	case req.Message == "":
		return routing.Facts{}, &InputError{"message is required: the text to send"}
	case len(req.From) > MaxSenderLength:
		return routing.Facts{}, &InputError{fmt.Sprintf("from is %d characters long; senders are at most %d (alphanumeric at most 11)", len(req.From), MaxSenderLength)}
	}
	if err := checkRequest(req); err != nil {
		return routing.Facts{}, err
	}
	num, err := number.Parse(req.To)
	if err != nil {
		return routing.Facts{}, &InputError{"Invalid phone number format"}
	}
	kind := req.Kind
	if kind == "" {
		kind = message.KindSMS
	}
	enc, segs := segment.Count(req.Message)
	return routing.Facts{To: num.E164, Country: num.Country, CallingCode: num.CallingCode, Operator: num.Operator,
		NumberType: num.Type, Sender: req.From, Text: req.Message, Length: utf8.RuneCountInString(req.Message),
		Segments: segs, Encoding: enc, Kind: string(kind), Account: accountID, Tags: req.Tags}, nil
}

// Send validates, routes and stores a message; it is then queued for the
// dispatcher. Errors the caller must fix are *InputError or
// *routing.NoRouteError; a repeat within the duplicate window is a
// *message.DuplicateError, a reused idempotency key a *ReplayError.
func (s *Service) Send(ctx context.Context, accountID string, req SendRequest) (message.View, error) {
	m, err := s.prepare(ctx, accountID, req)
	if err != nil {
		return message.View{}, err
	}
	res := []BulkResult{{To: req.To, MessageID: m.ID, Status: message.Queued}}
	if err := s.accept(ctx, []*intake.Message{m}, res, req.Idempotency, true); err != nil {
		return message.View{}, err
	}
	return acceptedView(m), nil
}

// Cancel ends one of the account's messages that no provider has accepted
// yet; see CancelMessageView of the store. It returns ErrNotFound for an id the
// account does not have and a *message.NotCancellableError for a message
// already accepted, final or being sent right now.
func (s *Service) Cancel(ctx context.Context, accountID, id string) (message.View, error) {
	v, err := s.store.CancelMessageView(ctx, accountID, id, s.now())
	if err != nil {
		return message.View{}, err
	}
	s.log.Debug("message cancelled", "message_id", id)
	return v, nil
}

// schedule checks a request's send_at and validity and returns when the
// message is first due, when it expires, and the send time to record
// (nil for "at once").
func (s *Service) schedule(req SendRequest, now time.Time) (due, expires time.Time, sendAt *time.Time, err error) {
	due = now
	if !req.SendAt.IsZero() {
		ahead := s.api.MaxScheduleAhead
		if ahead <= 0 {
			ahead = config.DefaultAPI().MaxScheduleAhead
		}
		switch at := req.SendAt.UTC(); {
		case at.Before(now.Add(-ScheduleSkew)):
			return due, expires, nil, &InputError{fmt.Sprintf("send_at %s is in the past; give a future time in RFC 3339 such as %s, or leave send_at out to send at once",
				at.Format(time.RFC3339), now.Add(time.Hour).Truncate(time.Minute).Format(time.RFC3339))}
		case at.After(now.Add(ahead)):
			return due, expires, nil, &InputError{fmt.Sprintf("send_at %s is too far ahead: messages can be scheduled at most %s ahead (until %s)",
				at.Format(time.RFC3339), span(ahead), now.Add(ahead).Format(time.RFC3339))}
		case at.After(now):
			due, sendAt = at, &at
		}
	}
	validity := s.validity
	if req.Validity != 0 {
		maxV := s.api.MaxValidity
		if maxV <= 0 {
			maxV = max(config.DefaultAPI().MaxValidity, s.validity)
		}
		if req.Validity < config.MinValidity || req.Validity > maxV {
			return due, expires, nil, &InputError{fmt.Sprintf("validity must be from %d to %d seconds, got %d",
				int(config.MinValidity.Seconds()), int(maxV.Seconds()), int(req.Validity.Seconds()))}
		}
		validity = req.Validity
	}
	return due, due.Add(validity), sendAt, nil
}

// span writes a duration as operators configure it: whole days as days.
func span(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// Message returns one of the account's messages.
func (s *Service) Message(ctx context.Context, accountID, id string) (message.View, error) {
	v, err := s.store.MessageView(ctx, accountID, id)
	if errors.Is(err, account.ErrNotFound) {
		return message.View{}, ErrNotFound
	}
	if err != nil {
		return message.View{}, err
	}
	return v, nil
}
