package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsrouter/smsrouter/core/hook"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// HookHost forwards an HTTP hook to a provider's plugin.
type HookHost interface {
	HandleHook(ctx context.Context, provider string, req *hook.Request, w hook.Writer) error
}

// EventStore stores provider events durably.
type EventStore interface {
	StoreEvents(ctx context.Context, provider string, events []message.Event) error
}

// ServeHook forwards one hook request to a provider and relays its answer
// to answer. Events the plugin emits are stored before the response they came
// with starts, so a provider whose request we answered never has to send
// the report again, and one we could not store is told to retry.
//
// When no answer was written, the error is a *HookError saying why, for
// the caller to answer; any other error came after the answer started.
func ServeHook(ctx context.Context, host HookHost, events EventStore, provider string, req *hook.Request, answer hook.Answer) error {
	hw := &hookWriter{ctx: ctx, provider: provider, events: events, answer: answer, header: hook.Header{}}
	err := host.HandleHook(ctx, provider, req, hw)
	if err == nil && hw.err != nil {
		err = hw.err // a refused late Emit, which the handler may have ignored
	}
	if err == nil {
		if ferr := hw.storePending(); ferr != nil {
			err = ferr
		} else if !hw.wrote {
			// The plugin wrote nothing: HTTP's default answer.
			hw.WriteHeader(hook.StatusOK)
			err = hw.err
		}
	}
	if err != nil && !hw.wrote {
		return &HookError{Provider: provider, Failure: hookFailure(err), Err: err}
	}
	return err
}

// HookFailure says why a hook request got no answer from its provider.
type HookFailure int

const (
	// HookFailed: the provider could not handle the request.
	HookFailed HookFailure = iota
	// HookUnknownProvider: no provider has the name.
	HookUnknownProvider
	// HookUnsupported: the provider takes no hooks.
	HookUnsupported
	// HookUnavailable: the provider, or the storage of its events, is
	// unavailable for now; the sender should retry.
	HookUnavailable
)

// HookError is a hook request nothing was answered to.
type HookError struct {
	Provider string
	Failure  HookFailure
	Err      error
}

func (e *HookError) Error() string {
	return fmt.Sprintf("provider %s could not answer a hook: %v", e.Provider, e.Err)
}

func (e *HookError) Unwrap() error { return e.Err }

func hookFailure(err error) HookFailure {
	switch {
	case errors.Is(err, pluginhost.ErrUnknownProvider):
		return HookUnknownProvider
	case errors.Is(err, hook.ErrUnsupported):
		return HookUnsupported
	case errors.Is(err, hook.ErrUnavailable), errors.Is(err, errStore):
		return HookUnavailable
	}
	return HookFailed
}

var errStore = errors.New("storing provider events failed")

type hookWriter struct {
	ctx      context.Context
	provider string
	events   EventStore
	answer   hook.Answer
	header   hook.Header
	wrote    bool
	pending  []message.Event
	err      error
}

func (h *hookWriter) Header() hook.Header { return h.header }

func (h *hookWriter) storePending() error {
	if len(h.pending) == 0 {
		return nil
	}
	if err := h.events.StoreEvents(h.ctx, h.provider, h.pending); err != nil {
		h.err = fmt.Errorf("%w: %v", errStore, err)
		return h.err
	}
	h.pending = nil
	return nil
}

func (h *hookWriter) WriteHeader(status int) {
	if h.wrote || h.err != nil {
		return
	}
	if h.storePending() != nil {
		return
	}
	h.answer.Start(status, h.header)
	h.wrote = true
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(hook.StatusOK)
	}
	if h.err != nil {
		return 0, h.err
	}
	if err := h.storePending(); err != nil {
		return 0, err
	}
	return h.answer.Write(p)
}

func (h *hookWriter) Flush() error {
	if !h.wrote {
		h.WriteHeader(hook.StatusOK)
	}
	if h.err != nil {
		return h.err
	}
	if err := h.storePending(); err != nil {
		return err
	}
	h.answer.Flush()
	return nil
}

// Emit keeps events to store before the response starts; after that the
// caller may have its answer already, so a failure to store them could not
// reach it and the emit is refused.
func (h *hookWriter) Emit(events ...message.Event) error {
	if h.wrote {
		err := fmt.Errorf("provider %s emitted %d event(s): %w", h.provider, len(events), hook.ErrResponseStarted)
		if h.err == nil {
			h.err = err
		}
		return err
	}
	h.pending = append(h.pending, events...)
	return nil
}
