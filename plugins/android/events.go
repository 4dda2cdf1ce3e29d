package android

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// events answers GET /events: the server-sent event stream that tells the
// phone to pull its messages. On connecting, the phone is told to fetch
// its webhooks and settings (the app fetches neither on its first start),
// and to pull. A comment line every keepalive keeps proxies from closing
// an idle stream. The stream ends when the phone goes away, the phone is
// revoked or the provider closes.
func (p *Provider) events(ctx context.Context, d *device, w sdk.HookResponseWriter) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		fail(w, http.StatusServiceUnavailable, "the provider is shutting down")
		return nil
	}
	d.streams++
	p.signalLocked()
	keepalive := p.s.Keepalive.D()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		d.streams--
		d.lastSeen = p.now()
		p.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	for _, name := range []string{"WebhooksUpdated", "SettingsUpdated", "MessageEnqueued"} {
		if err := sendEvent(w, name); err != nil {
			return nil
		}
	}
	if err := w.Flush(); err != nil {
		return nil
	}
	tick := time.NewTicker(keepalive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.closing:
			return nil
		case <-d.gone:
			return nil
		case <-d.wake:
			if sendEvent(w, "MessageEnqueued") != nil || w.Flush() != nil {
				return nil
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ":keepalive\n\n"); err != nil || w.Flush() != nil {
				return nil
			}
		}
	}
}

// sendEvent writes one named event. The app dispatches only events with a
// data line.
func sendEvent(w sdk.HookResponseWriter, name string) error {
	_, err := fmt.Fprintf(w, "event: %s\ndata: {}\n\n", name)
	return err
}
