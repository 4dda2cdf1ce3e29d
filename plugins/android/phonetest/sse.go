package phonetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// SSE event names the app acts on.
const (
	SSEMessageEnqueued  = "MessageEnqueued"
	SSEWebhooksUpdated  = "WebhooksUpdated"
	SSESettingsUpdated  = "SettingsUpdated"
	SSEMessageCancelled = "MessageCancelled"
	SSEExportRequested  = "MessagesExportRequested"
)

// streamLoop keeps GET /events open for the session, reopening it after
// ReconnectDelay whenever it ends.
func (p *Phone) streamLoop(ctx context.Context) {
	defer p.loops.Done()
	for ctx.Err() == nil {
		err := p.stream(ctx)
		p.mu.Lock()
		p.connected = false
		p.changedLocked()
		p.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.errorf("event stream: %v", err)
		}
		t := time.NewTimer(p.opts.ReconnectDelay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stream opens the event stream and dispatches its events until it ends.
// The app requires a 2xx answer of type text/event-stream, pulls on every
// (re)connect, and dispatches only events that carry a data line; an event
// without a name counts as MessageEnqueued.
func (p *Phone) stream(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/events", nil)
	if err != nil {
		return fmt.Errorf("building GET /events: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token())
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", "me.capcom.smsgateway/1.68.0")
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET /events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET /events answered %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return fmt.Errorf("GET /events answered Content-Type %q; the app needs text/event-stream", resp.Header.Get("Content-Type"))
	}
	p.mu.Lock()
	p.connected = true
	p.connects++
	p.changedLocked()
	p.mu.Unlock()
	p.requestPull()

	r := bufio.NewReader(resp.Body)
	var name string
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil || err == io.EOF {
				return nil
			}
			return fmt.Errorf("reading the event stream: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != nil {
				p.dispatch(ctx, name, strings.Join(data, "\n"))
			}
			name, data = "", nil
		case strings.HasPrefix(line, ":"):
			// keep-alive comment
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// dispatch acts on one event as the app does.
func (p *Phone) dispatch(ctx context.Context, name, data string) {
	if name == "" {
		name = SSEMessageEnqueued
	}
	p.mu.Lock()
	if len(p.events) < 100000 {
		p.events = append(p.events, name)
	}
	p.changedLocked()
	p.mu.Unlock()
	switch name {
	case SSEMessageEnqueued:
		p.requestPull()
	case SSEWebhooksUpdated:
		p.fetchWebhooks(ctx)
	case SSESettingsUpdated:
		p.fetchSettings(ctx)
	}
}

// pullLoop runs the pulls asked for by the stream, pings and polls, one at a
// time, as the app's worker does.
func (p *Phone) pullLoop(ctx context.Context) {
	defer p.loops.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.pullNow:
			p.pull(ctx)
		}
	}
}

// every runs fn every d until the session ends: the app's ping (which also
// pulls) and its periodic poll.
func (p *Phone) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	defer p.loops.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// pingOnce posts system:ping, once the phone has a webhook for it, and
// pulls, as the app does on every ping.
func (p *Phone) pingOnce(ctx context.Context) {
	if p.hasWebhook(EventSystemPing) {
		if err := p.Ping(ctx); err != nil && ctx.Err() == nil {
			p.errorf("ping: %v", err)
		}
	}
	p.requestPull()
}
