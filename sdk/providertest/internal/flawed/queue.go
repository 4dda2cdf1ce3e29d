package flawed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Queue accepts every message and reports it delivered through
// sdk.EventSource, offering again an event the host failed to store.
type Queue struct {
	flaw Flaw

	mu      sync.Mutex
	prefix  string
	next    int
	pending []sdk.Event
	wake    chan struct{}
}

// NewQueue returns the event-source provider with flaw. Its settings are
// {"prefix":"..."}, a prefix for provider ids that must not be empty.
func NewQueue(flaw Flaw) *Queue { return &Queue{flaw: flaw, wake: make(chan struct{}, 1)} }

func (p *Queue) Info() sdk.Info {
	return sdk.Info{Name: "flawed-queue", Version: "0.0.1", MaxBatchSize: 10}
}

func (p *Queue) Configure(ctx context.Context, cfg sdk.Config) error {
	var s struct {
		Prefix string `json:"prefix"`
	}
	dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
	dec.DisallowUnknownFields()
	err := dec.Decode(&s)
	if err == nil && s.Prefix == "" {
		err = errors.New("prefix: must not be empty")
	}
	if err != nil && p.flaw != AcceptsBadSettings {
		return fmt.Errorf("flawed settings: %w", err)
	}
	if p.flaw == LeaksGoroutine {
		leak()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prefix = s.Prefix + "-"
	return nil
}

func (p *Queue) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	if err := ctx.Err(); err != nil && p.flaw != AcceptsAfterCancel {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prefix == "" && p.flaw != SendsUnconfigured {
		return nil, errors.New("flawed: not configured")
	}
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		p.next++
		id := fmt.Sprintf("%s%d", p.prefix, p.next)
		results[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: id}
		p.pending = append(p.pending, sdk.Event{ID: id + "/delivered",
			Status: &sdk.StatusEvent{ProviderMessageID: id, Status: sdk.StatusDelivered, At: time.Now()}})
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	switch p.flaw {
	case DropsResult:
		results = results[:len(results)-1]
	case NoProviderID:
		results[0].ProviderMessageID = ""
	}
	return results, nil
}

// Events offers pending events in order; one the host refuses is kept and
// offered again after a pause.
func (p *Queue) Events(ctx context.Context, emit sdk.EmitFunc) error {
	for {
		ev, ok := p.head()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-p.wake:
			}
			continue
		}
		if err := emit(ctx, ev); err != nil && p.flaw != DropsRefusedEvents {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		p.pending = p.pending[1:]
		p.mu.Unlock()
	}
}

func (p *Queue) head() (sdk.Event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return sdk.Event{}, false
	}
	return p.pending[0], true
}

func (p *Queue) Close(ctx context.Context) error { return nil }
