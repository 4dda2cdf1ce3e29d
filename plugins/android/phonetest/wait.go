package phonetest

import (
	"context"
	"fmt"
	"strings"

	"github.com/android-sms-gateway/client-go/smsgateway"
)

// View is a read-only look at a phone for a WaitFor condition. Its methods
// must only be called inside the condition.
type View struct{ p *Phone }

// Registered reports whether the phone has a device token.
func (v View) Registered() bool { return v.p.ident.Token != "" }

// RegisterStatus is the HTTP status of the last POST /device (0: none).
func (v View) RegisterStatus() int { return v.p.registered }

// Connected reports whether the SSE stream is open.
func (v View) Connected() bool { return v.p.connected }

// Connects counts how many times the SSE stream was opened.
func (v View) Connects() int { return v.p.connects }

// Pulls counts completed GET /message calls.
func (v View) Pulls() int { return v.p.pulls }

// Online reports whether the phone's network is up (not silent).
func (v View) Online() bool { return v.p.online }

// Powered reports whether the app is running.
func (v View) Powered() bool { return v.p.powered }

// Webhooks is what GET /webhooks last answered.
func (v View) Webhooks() []smsgateway.Webhook {
	return append([]smsgateway.Webhook(nil), v.p.webhooks...)
}

// Settings is what GET /settings last answered.
func (v View) Settings() smsgateway.DeviceSettings { return v.p.settings }

// Events are the names of the SSE events dispatched so far, in order.
func (v View) Events() []string { return append([]string(nil), v.p.events...) }

// Taken counts the messages the phone took.
func (v View) Taken() int { return len(v.p.msgs) }

// State is the phone's own state for a message it took.
func (v View) State(id string) (smsgateway.ProcessingState, bool) {
	m, ok := v.p.msgs[id]
	if !ok {
		return "", false
	}
	return messageState(m.recipients), true
}

// Done counts the messages the phone has finished with (final state
// reached locally, whether or not the report reached the server).
func (v View) Done() int {
	n := 0
	for _, m := range v.p.msgs {
		if m.final() {
			n++
		}
	}
	return n
}

// Held counts reports (PATCHes and webhook events) waiting for the network.
func (v View) Held() int { return len(v.p.queued) }

// Errors are what went wrong so far, oldest first.
func (v View) Errors() []string { return append([]string(nil), v.p.errs...) }

// WaitFor blocks until cond holds for the phone, or ctx ends. cond runs
// with the phone locked, each time something about the phone changes; what
// is waited for is named in the error.
func (p *Phone) WaitFor(ctx context.Context, what string, cond func(View) bool) error {
	for {
		p.mu.Lock()
		ok := cond(View{p})
		ch := p.changed
		errs := p.errs
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			last := ""
			if len(errs) > 0 {
				last = "; last errors: " + strings.Join(errs[max(0, len(errs)-3):], " | ")
			}
			return fmt.Errorf("phone %s: waiting for %s: %w%s", p.opts.Name, what, ctx.Err(), last)
		}
	}
}

// WaitConnected waits until the SSE stream is open.
func (p *Phone) WaitConnected(ctx context.Context) error {
	return p.WaitFor(ctx, "the event stream to open", func(v View) bool { return v.Connected() })
}

// WaitWebhooks waits until the phone knows a webhook for every event given.
func (p *Phone) WaitWebhooks(ctx context.Context, events ...string) error {
	return p.WaitFor(ctx, "webhooks for "+strings.Join(events, ", "), func(v View) bool {
		for _, e := range events {
			found := false
			for _, h := range v.p.webhooks {
				found = found || h.Event == e
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// WaitState waits until the phone's own state for message id is state.
func (p *Phone) WaitState(ctx context.Context, id string, state smsgateway.ProcessingState) error {
	return p.WaitFor(ctx, fmt.Sprintf("message %s to be %s", id, state), func(v View) bool {
		s, ok := v.State(id)
		return ok && s == state
	})
}

// WaitFlushed waits until nothing is held for the network and the phone is
// online.
func (p *Phone) WaitFlushed(ctx context.Context) error {
	return p.WaitFor(ctx, "held reports to be posted", func(v View) bool { return v.Online() && v.Held() == 0 })
}
