package pluginhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/sdk"
)

// What the API reads of a provider's account on request: the senders it
// may use and, for the sandbox, the messages it kept.

// UnsupportedError is returned for a capability a running provider does
// not offer; it matches ErrNotSupported, and its text names the plugin,
// since the plugin is what decides.
type UnsupportedError struct {
	Provider, Plugin string
	// What completes "provider P (plugin X) ...": "keeps no outbox".
	What string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("provider %s (plugin %s) %s", e.Provider, e.Plugin, e.What)
}

// Is makes errors.Is(err, ErrNotSupported) hold.
func (e *UnsupportedError) Is(target error) bool { return target == ErrNotSupported }

// SenderIDs asks the named provider for the senders its account may use.
// It fails with an error wrapping ErrUnknownProvider, ErrUnavailable or
// ErrNotSupported before asking, or with the provider's own error, which
// it logs (a cancelled ask aside).
func (h *Host) SenderIDs(ctx context.Context, name string) ([]provider.SenderID, error) {
	l, s, err := capable[sdk.SenderIDLister](h, name, "lists no sender ids", func(c sdk.Capabilities) bool { return c.SenderIDs })
	if err != nil {
		return nil, err
	}
	ids, err := l.SenderIDs(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("provider did not list its sender IDs", "error", err)
		}
		return nil, fmt.Errorf("sender ids of %s: %w", name, err)
	}
	return SenderIDs(ids), nil
}

// Outbox returns up to limit of the messages the named provider kept (the
// sandbox's mail catcher), newest first. A provider that keeps none fails
// with an *UnsupportedError; one that is not running, with an error
// wrapping ErrUnavailable; the provider's own error is logged.
func (h *Host) Outbox(ctx context.Context, name string, limit int) ([]provider.OutboxMessage, error) {
	s, err := h.get(name)
	if err != nil {
		return nil, err
	}
	p, caps, err := s.current()
	if err != nil {
		return nil, fmt.Errorf("provider %s is not running: %w", name, err)
	}
	r, ok := p.(sdk.OutboxReader)
	if !ok || !caps.Outbox {
		return nil, &UnsupportedError{Provider: name, Plugin: caps.Name, What: "keeps no outbox; sandbox providers do"}
	}
	msgs, err := r.Outbox(ctx, limit)
	if err != nil {
		s.log.Warn("provider did not answer for its outbox", "error", err)
		return nil, fmt.Errorf("provider %s did not answer for its outbox: %w", name, err)
	}
	return OutboxMessages(msgs), nil
}
