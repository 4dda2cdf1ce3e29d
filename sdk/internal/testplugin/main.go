package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	sdk.Serve(newProvider())
}

// Balance is deliberately missing, so tests see ErrUnsupported.
type provider struct {
	release       chan struct{} // "/release" lets "/stream" write its second chunk
	hangCancelled chan struct{} // closed when a "/hang" handler saw its ctx end
	hangOnce      sync.Once
	sendBlocked   chan struct{} // closed when a "block" message reached Send
	sendOnce      sync.Once

	mu           sync.Mutex
	cfg          sdk.Config
	eventsStarts int
	emit         sdk.EmitFunc // the running event source's, for "/burst"
	down         bool         // Tune "health" = "down"
	revoked      map[string]bool
}

func newProvider() *provider {
	return &provider{
		release:       make(chan struct{}, 1),
		hangCancelled: make(chan struct{}),
		sendBlocked:   make(chan struct{}),
	}
}

// Sizes of the "/burst" hook's burst of events.
const (
	burstUnique = 50
	burstSame   = 10
)

// At is a fixed time so tests can compare events exactly.
var At = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

func (p *provider) Info() sdk.Info {
	return sdk.Info{Name: "testplugin", Version: "1.2.3", MaxBatchSize: 10}
}

type settings struct {
	Fail string `json:"fail"`
}

func (p *provider) Configure(ctx context.Context, cfg sdk.Config) error {
	var s settings
	if len(cfg.Settings) > 0 {
		if err := json.Unmarshal(cfg.Settings, &s); err != nil {
			return err
		}
	}
	if s.Fail != "" {
		return errors.New(s.Fail)
	}
	p.mu.Lock()
	p.cfg = cfg
	p.mu.Unlock()
	cfg.Logger.Info("test plugin configured", "hook_url", cfg.HookURL)
	return nil
}

// ValidateSettings reports the problems the settings list under
// "problems", so a test decides what comes back.
func (p *provider) ValidateSettings(_ context.Context, cfg sdk.Config) error {
	var s struct {
		Problems []struct {
			Setting string `json:"setting"`
			Message string `json:"message"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(cfg.Settings, &s); err != nil {
		return err
	}
	var errs []error
	for _, pr := range s.Problems {
		errs = append(errs, fmt.Errorf("checking: %w", &sdk.SettingsError{Field: pr.Setting, Err: errors.New(pr.Message)}))
	}
	return errors.Join(errs...)
}

// wantResult is what a message's text asks Send to answer.
type wantResult struct {
	Outcome           int    `json:"outcome"`
	ProviderMessageID string `json:"provider_message_id"`
	Code              string `json:"code"`
	Reason            string `json:"reason"`
	RetryAfterMS      int    `json:"retry_after_ms"`
	Refusal           string `json:"refusal"`
}

func (p *provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	results := make([]sdk.SendResult, 0, len(msgs))
	for _, m := range msgs {
		switch m.Text {
		case "batch-error":
			return nil, errors.New("upstream connection down: dial tcp: connection refused")
		case "block":
			p.sendOnce.Do(func() { close(p.sendBlocked) })
			<-ctx.Done()
			return nil, ctx.Err()
		case "echo":
			b, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			results = append(results, sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: string(b)})
			continue
		}
		var w wantResult
		if err := json.Unmarshal([]byte(m.Text), &w); err != nil {
			return nil, err
		}
		results = append(results, sdk.SendResult{
			MessageID:         m.ID,
			Outcome:           sdk.Outcome(w.Outcome),
			ProviderMessageID: w.ProviderMessageID,
			Code:              w.Code,
			Reason:            w.Reason,
			RetryAfter:        time.Duration(w.RetryAfterMS) * time.Millisecond,
			Refusal:           sdk.Refusal(w.Refusal),
		})
	}
	return results, nil
}

// Close logs, so tests can count from the host how often it ran.
func (p *provider) Close(context.Context) error {
	p.mu.Lock()
	logger := p.cfg.Logger
	p.mu.Unlock()
	if logger != nil {
		logger.Info("test plugin closed")
	}
	return nil
}

func (p *provider) Health(context.Context) (sdk.Health, error) {
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if down {
		return sdk.Health{OK: false, Detail: "tuned down", RefuseWhileDown: true}, nil
	}
	return sdk.Health{OK: true, Detail: "bound 1/1"}, nil
}

func (p *provider) SenderIDs(context.Context) ([]sdk.SenderID, error) {
	return []sdk.SenderID{{Value: "MyShop", Kind: "alphanumeric"}, {Value: "+14155550100", Kind: "number"}}, nil
}

func (p *provider) QueryStatus(_ context.Context, ids []string) ([]sdk.StatusEvent, error) {
	var out []sdk.StatusEvent
	for _, id := range ids {
		if strings.HasPrefix(id, "known-") {
			out = append(out, sdk.StatusEvent{ProviderMessageID: id, Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD", At: At})
		}
	}
	return out, nil
}

// Events emits two events, each only after the previous one was stored.
func (p *provider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	p.mu.Lock()
	p.eventsStarts++
	p.emit = emit
	p.mu.Unlock()
	evs := []sdk.Event{
		{ID: "ev-1", Status: &sdk.StatusEvent{ProviderMessageID: "pm-1", Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD", ErrorCode: "000", At: At}},
		{ID: "ev-2", Inbound: &sdk.InboundEvent{ProviderMessageID: "mo-1", From: "+959123456789", To: "12345", Text: "hello", At: At}},
	}
	for _, ev := range evs {
		if err := emit(ctx, ev); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

func (p *provider) HandleHook(ctx context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	switch req.Path {
	case "/status":
		_ = w.Emit(sdk.Event{ID: "hook-ev-1", Status: &sdk.StatusEvent{ProviderMessageID: "pm-9", Status: sdk.StatusFailed, At: At}})
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusCreated)
		_, err := w.Write([]byte("ok"))
		return err
	case "/panic":
		_ = w.Emit(sdk.Event{ID: "panic-ev", Status: &sdk.StatusEvent{ProviderMessageID: "pm-9", Status: sdk.StatusFailed, At: At}})
		var settings map[string]string
		settings["boom"] = "a bug in the handler" // assignment to a nil map
		return nil
	case "/echo":
		p.mu.Lock()
		cfg := p.cfg
		p.mu.Unlock()
		return json.NewEncoder(w).Encode(map[string]any{"request": req, "name": cfg.Name, "hook_url": cfg.HookURL, "settings": cfg.Settings})
	case "/stream":
		w.WriteHeader(http.StatusOK)
		if _, err := w.Write([]byte("chunk-1")); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		select {
		case <-p.release:
		case <-ctx.Done():
			return ctx.Err()
		}
		if _, err := w.Write([]byte("chunk-2")); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		// Too late: the caller has part of its answer already.
		if err := w.Emit(sdk.Event{ID: "stream-ev", Inbound: &sdk.InboundEvent{From: "+15550001", To: "+15550002", Text: "hi", At: At}}); err == nil {
			return errors.New("Emit after the response started was accepted")
		}
		return nil
	case "/release":
		select {
		case p.release <- struct{}{}:
		default:
		}
		return nil
	case "/hang":
		if err := w.Flush(); err != nil {
			return err
		}
		<-ctx.Done()
		p.hangOnce.Do(func() { close(p.hangCancelled) })
		return ctx.Err()
	case "/hang-cancelled":
		select {
		case <-p.hangCancelled:
			_, err := w.Write([]byte("cancelled"))
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	case "/send-blocked":
		select {
		case <-p.sendBlocked:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	case "/burst":
		// Emits burstUnique events with their own provider message ids and
		// burstSame about one id, all from goroutines of their own, and
		// answers once the host stored them all.
		p.mu.Lock()
		emit := p.emit
		p.mu.Unlock()
		if emit == nil {
			return errors.New("no event stream open")
		}
		var wg sync.WaitGroup
		errs := make(chan error, burstUnique+burstSame)
		for i := range burstUnique + burstSame {
			pm := fmt.Sprintf("unique-%d", i)
			if i >= burstUnique {
				pm = "same"
			}
			wg.Go(func() {
				errs <- emit(ctx, sdk.Event{ID: fmt.Sprintf("burst-%d", i), Status: &sdk.StatusEvent{ProviderMessageID: pm, Status: sdk.StatusDelivered, At: At}})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "/events-starts":
		p.mu.Lock()
		n := p.eventsStarts
		p.mu.Unlock()
		return json.NewEncoder(w).Encode(n)
	case "/fail":
		_ = w.Emit(sdk.Event{ID: "fail-ev", Status: &sdk.StatusEvent{ProviderMessageID: "pm-7", Status: sdk.StatusDelivered}})
		return errors.New("signature mismatch: X-Signature does not match the body")
	}
	w.WriteHeader(http.StatusNotFound)
	return nil
}
