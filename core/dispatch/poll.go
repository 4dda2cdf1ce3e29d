package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/sdk"
)

// ReportStore is what the status poller reads and writes.
type ReportStore interface {
	AwaitingReport(ctx context.Context, provider string, sentBefore, polledBefore time.Time, limit int) ([]store.Message, error)
	MarkPolled(ctx context.Context, ids []string, at time.Time) error
	StoreEvents(ctx context.Context, provider string, events []sdk.Event) error
}

// PollOptions tune a Poller.
type PollOptions struct {
	Logger hclog.Logger
	// After is, per provider, how long after a message was accepted the
	// provider is asked for its status when no report came by itself. A
	// provider that is not listed is never polled.
	After map[string]time.Duration
	// Batch is how many provider ids one query asks about (default 100).
	Batch int
	Now   func() time.Time
}

// Poller asks providers that can answer status queries about messages whose
// reports are overdue: upstreams without callbacks, and reports lost with a
// plugin process that crashed before it could emit them.
type Poller struct {
	st  ReportStore
	p   Providers
	o   PollOptions
	log hclog.Logger
}

// NewPoller returns a Poller; Run does the work.
func NewPoller(st ReportStore, p Providers, o PollOptions) *Poller {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Poller{st: st, p: p, o: o, log: o.Logger.Named("statuspoll")}
}

// Run polls until ctx ends. Each provider is looked at every half of its
// After interval (at least every second).
func (p *Poller) Run(ctx context.Context) error {
	if len(p.o.After) == 0 {
		return nil
	}
	every := time.Minute
	for _, d := range p.o.After {
		every = min(every, max(d/2, time.Second))
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.PollOnce(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("status poll round failed", "error", err)
		}
	}
}

// PollOnce asks every pollable provider about its overdue messages once.
func (p *Poller) PollOnce(ctx context.Context) error {
	names := make([]string, 0, len(p.o.After))
	for n := range p.o.After {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		if err := p.pollProvider(ctx, name, p.o.After[name]); err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Poller) pollProvider(ctx context.Context, name string, after time.Duration) error {
	prov, caps, err := p.p.Provider(name)
	if err != nil {
		if errors.Is(err, sdk.ErrUnavailable) {
			return nil // polled again once the plugin runs
		}
		return err
	}
	q, ok := prov.(sdk.StatusQuerier)
	if !ok || !caps.StatusQuery {
		return nil
	}
	now := p.o.Now()
	msgs, err := p.st.AwaitingReport(ctx, name, now.Add(-after), now.Add(-after), p.o.Batch)
	if err != nil || len(msgs) == 0 {
		return err
	}
	ids := make([]string, len(msgs))
	msgIDs := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i], msgIDs[i] = m.ProviderMessageID, m.ID
	}
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	reports, err := q.QueryStatus(qctx, ids)
	cancel()
	if err != nil {
		return fmt.Errorf("query status of %d messages: %w", len(ids), err)
	}
	events := make([]sdk.Event, 0, len(reports))
	for _, r := range reports {
		if r.Status == sdk.StatusSent || r.Status == sdk.StatusQueued || !r.Status.Valid() {
			continue // nothing new
		}
		events = append(events, sdk.Event{ID: "poll/" + r.ProviderMessageID + "/" + string(r.Status), Status: &r})
	}
	if err := p.st.StoreEvents(ctx, name, events); err != nil {
		return err
	}
	p.log.Debug("polled statuses", "provider", name, "asked", len(ids), "new", len(events))
	return p.st.MarkPolled(ctx, msgIDs, now)
}
