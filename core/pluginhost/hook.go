package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/smsrouter/smsrouter/core/hook"
	"github.com/smsrouter/smsrouter/sdk"
)

// HandleHook forwards an HTTP request to the named provider's hook handler.
// The plugin protocol's errors come back as the host's (hook.ErrUnsupported,
// hook.ErrUnavailable), wrapping the plugin's own.
func (h *Host) HandleHook(ctx context.Context, name string, req *hook.Request, w hook.Writer) error {
	p, caps, err := h.Provider(name)
	if err != nil {
		return err
	}
	hh, ok := p.(sdk.HookHandler)
	if !ok || !caps.Hooks {
		return fmt.Errorf("provider %s does not take HTTP hooks: %w", name, hook.ErrUnsupported)
	}
	sreq := &sdk.HookRequest{Method: req.Method, URL: req.URL, Path: req.Path, Header: http.Header(req.Header), Body: req.Body, RemoteAddr: req.RemoteAddr}
	err = hh.HandleHook(ctx, sreq, hookWriter{w})
	if errors.Is(err, sdk.ErrUnavailable) {
		return alsoIs{err, hook.ErrUnavailable}
	}
	return err
}

// hookWriter is the host's hook.Writer as the plugin protocol's writer:
// the header and the events a plugin emits are translated as they come.
type hookWriter struct{ hook.Writer }

// Header is the host's header as the protocol's type: the same map, so
// the plugin's changes are the host's.
func (w hookWriter) Header() http.Header { return http.Header(w.Writer.Header()) }

func (w hookWriter) Emit(events ...sdk.Event) error {
	err := w.Writer.Emit(Events(events)...)
	if errors.Is(err, hook.ErrResponseStarted) {
		return alsoIs{err, sdk.ErrResponseStarted}
	}
	return err
}

// alsoIs is an error that also is target on the other side of the plugin
// boundary, without changing the words it is shown in.
type alsoIs struct {
	error
	target error
}

func (e alsoIs) Is(target error) bool { return target == e.target }
func (e alsoIs) Unwrap() error        { return e.error }
