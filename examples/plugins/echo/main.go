package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	sdk.Serve(newProvider())
}

// maxDelay keeps a typo ("100h") from parking reports for days.
const maxDelay = time.Hour

// settings is the provider block's config: {"delay":"100ms"}.
type settings struct {
	Delay sdk.Duration `json:"delay"`
}

// Validate runs inside sdk.DecodeSettings, so configuration checks catch a
// bad delay without starting the plugin.
func (s *settings) Validate() error {
	return sdk.InRange("delay", s.Delay, 0, sdk.Duration(maxDelay))
}

// report is a delivery report waiting for its time.
type report struct {
	due time.Time
	ev  sdk.Event
}

type provider struct {
	closed    chan struct{}
	closeOnce sync.Once
	// wake has room for one signal: "the queue changed, look again".
	wake chan struct{}

	mu      sync.Mutex
	delay   time.Duration
	ready   bool
	pending []report // in due order: the delay is the same for all
}

func newProvider() *provider {
	return &provider{
		closed: make(chan struct{}),
		wake:   make(chan struct{}, 1),
		delay:  100 * time.Millisecond,
	}
}

func (p *provider) Info() sdk.Info {
	return sdk.Info{Name: "echo", Version: "0.1.0", MaxBatchSize: 100}
}

func (p *provider) Configure(ctx context.Context, cfg sdk.Config) error {
	s := settings{Delay: sdk.Duration(100 * time.Millisecond)}
	if err := sdk.DecodeSettings(cfg.Settings, &s); err != nil {
		return fmt.Errorf("echo provider %q: %w", cfg.Name, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay, p.ready = s.Delay.D(), true
	cfg.Log().Info("echo provider configured", "delay", s.Delay.String())
	return nil
}

func (p *provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("echo send: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		return nil, errors.New("echo send: provider is not configured")
	}
	now := time.Now()
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		id := "echo-" + randomHex()
		results[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: id, Code: "OK"}
		due := now.Add(p.delay)
		p.pending = append(p.pending, report{due: due, ev: sdk.Event{
			ID: id + ":delivered",
			Status: &sdk.StatusEvent{
				ProviderMessageID: id,
				Status:            sdk.StatusDelivered,
				ProviderStatus:    "DELIVRD",
				At:                due,
			},
		}})
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return results, nil
}

// Events emits each report when it is due. A report the host did not store
// stays first in the queue and is offered again after a pause.
func (p *provider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	const retryPause = 50 * time.Millisecond
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		p.mu.Lock()
		var next report
		waiting := len(p.pending) > 0
		if waiting {
			next = p.pending[0]
		}
		p.mu.Unlock()

		if waiting && !time.Now().Before(next.due) {
			if err := emit(ctx, next.ev); err == nil {
				p.mu.Lock()
				if len(p.pending) > 0 && p.pending[0].ev.ID == next.ev.ID {
					p.pending = p.pending[1:]
				}
				p.mu.Unlock()
				continue
			}
			timer.Reset(retryPause)
		} else if waiting {
			timer.Reset(time.Until(next.due))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.closed:
			return nil
		case <-p.wake:
		case <-timer.C:
		}
	}
}

func (p *provider) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

// randomHex makes provider message ids unique across restarts.
func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}
