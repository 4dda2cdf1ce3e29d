package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/core/store"
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
var ErrNotFound = store.ErrNotFound

// Planner chooses the ordered candidate providers for a message.
type Planner interface {
	Plan(ctx context.Context, f routing.Facts) (routing.Plan, error)
}

// Waker is told when new messages are due; the dispatcher implements it.
type Waker interface{ Wake() }

// Service is the domain entry point the HTTP API calls.
type Service struct {
	store    *store.Store
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
	// transaction per request. A *store.Batcher shares commits.
	Accepter Accepter
}

// NewService returns a Service over the store and the routing planner.
// waker may be nil.
func NewService(st *store.Store, planner Planner, waker Waker, o Options) *Service {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
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
	s.accepter = o.Accepter
	if s.accepter == nil {
		s.accepter = st
	}
	return s
}

// SendRequest is one message an application asks us to send.
type SendRequest struct {
	To      string
	Message string
	From    string
	Kind    string
	// Tags are free-form labels routing rules can read as tags.
	Tags map[string]string
	// Idempotency, when set, makes the send replay-safe.
	Idempotency *Idempotency
}

// Facts checks a request and computes the routing facts of its message:
// number facts (E.164, country, operator, line type), encoding and
// segments. Errors are *InputError. The message id is left empty.
func Facts(accountID string, req SendRequest) (routing.Facts, error) {
	switch {
	case strings.TrimSpace(req.To) == "":
		return routing.Facts{}, &InputError{"to is required: the recipient in international format, e.g. +959123456789"}
	case req.Message == "":
		return routing.Facts{}, &InputError{"message is required: the text to send"}
	case !utf8.ValidString(req.Message):
		return routing.Facts{}, &InputError{"message is not valid UTF-8"}
	case len(req.From) > MaxSenderLength:
		return routing.Facts{}, &InputError{fmt.Sprintf("from is %d characters long; senders are at most %d (alphanumeric at most 11)", len(req.From), MaxSenderLength)}
	}
	num, err := number.Parse(req.To)
	if err != nil {
		return routing.Facts{}, &InputError{"Invalid phone number format"}
	}
	kind := req.Kind
	if kind == "" {
		kind = "sms"
	}
	enc, segs := segment.Count(req.Message)
	return routing.Facts{To: num.E164, Country: num.Country, CallingCode: num.CallingCode, Operator: num.Operator,
		NumberType: num.Type, Sender: req.From, Text: req.Message, Length: utf8.RuneCountInString(req.Message),
		Segments: segs, Encoding: enc, Kind: kind, Account: accountID, Tags: req.Tags}, nil
}

// Send validates, routes and stores a message; it is then queued for the
// dispatcher. Errors the caller must fix are *InputError or
// *routing.NoRouteError; a repeat within the duplicate window is a
// *store.DuplicateError, a reused idempotency key a *store.ReplayError.
func (s *Service) Send(ctx context.Context, accountID string, req SendRequest) (store.Message, error) {
	m, err := s.prepare(ctx, accountID, req)
	if err != nil {
		return store.Message{}, err
	}
	res := []BulkResult{{To: req.To, MessageID: m.ID, Status: m.Status}}
	if err := s.accept(ctx, []*store.Message{m}, res, req.Idempotency, true); err != nil {
		return store.Message{}, err
	}
	return *m, nil
}

// Message returns one of the account's messages.
func (s *Service) Message(ctx context.Context, accountID, id string) (store.Message, error) {
	m, err := s.store.GetMessage(ctx, accountID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Message{}, ErrNotFound
	}
	return m, err
}
