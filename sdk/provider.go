package sdk

import (
	"context"
	"errors"
	"net/http"
)

// Provider is the interface every plugin implements.
type Provider interface {
	// Info describes the implementation. It must not block.
	Info() Info

	// Configure checks and applies the provider's settings. It is called once,
	// before anything else except Info. Return an error that names the bad field
	// and says what is wrong with it: operators read it at start-up.
	Configure(ctx context.Context, cfg Config) error

	// Send submits a batch of at most Info().MaxBatchSize messages and returns
	// exactly one SendResult per message, in order. Per-message outcomes go in
	// the results; a non-nil error means the whole batch was not attempted (for
	// example the upstream connection is down) and the host will retry every
	// message, possibly at another provider. Send must return promptly when ctx
	// is cancelled.
	Send(ctx context.Context, msgs []Message) ([]SendResult, error)

	// Close releases connections and stops every goroutine the provider
	// started. The host calls it once, at shutdown.
	Close(ctx context.Context) error
}

// EmitFunc hands one event to the host. It returns only after the host has
// stored the event durably, so a provider may then acknowledge it upstream
// (for example answer an SMPP deliver_sm). An error means the event was not
// stored; emit it again later.
//
// An EmitFunc is safe for concurrent use, and the host stores events
// emitted concurrently together, in one commit. Each call waits for its
// commit, so a provider with many events to report (delivery receipts under
// load) should emit them from several goroutines; events about the same
// provider message id keep the order in which emit was called.
type EmitFunc func(ctx context.Context, ev Event) error

// EventSource is implemented by providers that learn about status changes and
// inbound messages over a connection of their own (SMPP, modems, polling).
type EventSource interface {
	// Events runs until ctx is cancelled, calling emit for every event. The
	// host calls it once per provider process.
	Events(ctx context.Context, emit EmitFunc) error
}

// HookHandler is implemented by providers whose upstream calls us over HTTP
// (status callbacks, inbound messages, phones polling for work).
type HookHandler interface {
	// HandleHook answers one forwarded request. Events passed to w.Emit,
	// which must come before the first WriteHeader, Write or Flush, are
	// stored by the host before any part of the response reaches the
	// caller, so the caller's own retry covers a crash. A handler may keep
	// writing and flushing to stream a response (server-sent events, long
	// poll) until ctx is cancelled, which happens when the caller goes away.
	HandleHook(ctx context.Context, req *HookRequest, w HookResponseWriter) error
}

// HookResponseWriter is how a HookHandler answers. It is like
// http.ResponseWriter, plus Emit.
type HookResponseWriter interface {
	// Header is the response header; changes after WriteHeader have no effect.
	Header() http.Header
	// WriteHeader sends the status code and headers. It is implied by the
	// first Write with status 200.
	WriteHeader(status int)
	// Write sends part of the body.
	Write(p []byte) (int, error)
	// Flush pushes what was written so far to the caller.
	Flush() error
	// Emit records events for the host to store before the response starts.
	// Once it started (WriteHeader, Write or Flush was called) the caller
	// may already have its answer, so a failure to store could no longer
	// reach it: Emit then returns an error wrapping ErrResponseStarted, and
	// the hook fails. An invalid event (see Event) is refused the same way.
	Emit(events ...Event) error
}

// ErrResponseStarted is wrapped by HookResponseWriter.Emit's error when the
// handler emits after it started the response.
var ErrResponseStarted = errors.New("hook response already started; emit events before the first WriteHeader, Write or Flush")

// HealthChecker is implemented by providers that can tell whether their
// upstream link works.
type HealthChecker interface {
	Health(ctx context.Context) (Health, error)
}

// BalanceReporter is implemented by providers whose upstream reports account credit.
type BalanceReporter interface {
	Balance(ctx context.Context) (Balance, error)
}

// SenderIDLister is implemented by providers whose upstream lists the senders
// the account may use.
type SenderIDLister interface {
	SenderIDs(ctx context.Context) ([]SenderID, error)
}

// NumberLister is implemented by providers that receive on numbers of their
// own, such as the SIMs of phones and modems: the host puts the numbers it
// lists into the inventory applications lease numbers from (docs/numbers.md).
type NumberLister interface {
	// Numbers returns the numbers messages reach this provider on.
	Numbers(ctx context.Context) ([]ReceivingNumber, error)
}

// StatusQuerier is implemented by providers that can be asked for the status
// of messages they accepted (for upstreams without callbacks).
type StatusQuerier interface {
	// QueryStatus returns the current status of the given provider message
	// ids; ids the upstream does not know are left out.
	QueryStatus(ctx context.Context, providerMessageIDs []string) ([]StatusEvent, error)
}

// OutboxReader is implemented by providers that send nothing for real (the
// sandbox) and keep what they took for people to read, like a mail catcher:
// the host shows it to admins only, never on a provider's hook URL.
type OutboxReader interface {
	// Outbox returns up to limit of the latest messages taken, newest
	// first; limit 0 means all that are kept.
	Outbox(ctx context.Context, limit int) ([]OutboxMessage, error)
}

// SentQuerier is implemented by providers whose upstream can find a message
// by the host's message id (Message.ID, passed upstream as a client
// reference): the status-query capability for messages whose Send answer
// was lost with the plugin process. The host asks before it sends such
// messages again, and records those the upstream knows as accepted instead
// of sending them twice.
type SentQuerier interface {
	// QuerySent returns an Accepted result, with ProviderMessageID, for each
	// of the given host message ids the upstream took, in any order; ids
	// the upstream does not know are left out.
	QuerySent(ctx context.Context, messageIDs []string) ([]SendResult, error)
}

// ErrUnsupported is returned by the host's view of a provider when a
// capability the provider does not implement is called.
var ErrUnsupported = errors.New("not supported by this provider")

// CapabilitiesOf reports p's Info and which optional interfaces it implements.
// A value that knows its capabilities better (the host's view of a plugin
// process, which implements every interface) provides a Capabilities method,
// which is used instead.
func CapabilitiesOf(p Provider) Capabilities {
	if c, ok := p.(interface{ Capabilities() Capabilities }); ok {
		return c.Capabilities()
	}
	caps := Capabilities{Info: p.Info()}
	_, caps.Events = p.(EventSource)
	_, caps.Hooks = p.(HookHandler)
	_, caps.Health = p.(HealthChecker)
	_, caps.Balance = p.(BalanceReporter)
	_, caps.SenderIDs = p.(SenderIDLister)
	_, caps.Numbers = p.(NumberLister)
	_, caps.StatusQuery = p.(StatusQuerier)
	_, caps.Outbox = p.(OutboxReader)
	_, caps.SentQuery = p.(SentQuerier)
	_, caps.Devices = p.(DeviceReporter)
	_, caps.Revoke = p.(DeviceRevoker)
	_, caps.Tune = p.(Tuner)
	_, caps.Networks = p.(NetworkReporter)
	_, caps.SettingsValidation = p.(SettingsValidator)
	if caps.MaxBatchSize <= 0 {
		caps.MaxBatchSize = 1
	}
	return caps
}
