package dispatch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// ReportStore is what the status poller reads and writes.
type ReportStore interface {
	ClaimAwaitingReport(ctx context.Context, provider string, sentBefore, now time.Time, limit int, lease time.Duration) ([]Message, error)
	MarkPolled(ctx context.Context, marks []PollMark, at time.Time) error
	StoreEvents(ctx context.Context, provider string, events []message.Event) error
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
	// MaxInterval caps the backoff between polls of one message: the first
	// poll comes After acceptance, then the wait doubles up to MaxInterval
	// (default 30m).
	MaxInterval time.Duration
	// GiveUpAfter is, per provider, how long after acceptance polling stops
	// and the message is marked unknown (default 48h: past any validity
	// period a provider honours).
	GiveUpAfter map[string]time.Duration
	// MaxBatchesPerRound bounds how many queries one round sends to one
	// provider, so a backlog drains without starving the others (default 10).
	MaxBatchesPerRound int
	// Lease is how long the messages of one query stay claimed by this
	// poller, so that pollers on other servers leave them alone; a poller
	// that dies leaves claims that run out (default 2m, past the 30s a
	// query may take).
	Lease time.Duration
	Now   func() time.Time
}

// DefaultGiveUpAfter is how long a message is polled when the provider's
// config does not say.
const DefaultGiveUpAfter = 48 * time.Hour

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
	if o.MaxInterval <= 0 {
		o.MaxInterval = 30 * time.Minute
	}
	if o.MaxBatchesPerRound <= 0 {
		o.MaxBatchesPerRound = 10
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
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
	for range p.o.MaxBatchesPerRound {
		n, err := p.pollBatch(ctx, name, after)
		if err != nil || n < p.o.Batch {
			return err
		}
	}
	return nil
}

// pollBatch asks about one batch of overdue messages and returns how many
// it took.
func (p *Poller) pollBatch(ctx context.Context, name string, after time.Duration) (int, error) {
	caps, err := p.p.Capabilities(name)
	if err != nil {
		if errors.Is(err, pluginhost.ErrUnavailable) {
			return 0, nil // polled again once the plugin runs
		}
		return 0, err
	}
	if !caps.StatusQuery {
		return 0, nil
	}
	now := p.o.Now()
	// Claimed, so that a poller on another server asks about others.
	msgs, err := p.st.ClaimAwaitingReport(ctx, name, now.Add(-after), now, p.o.Batch, p.o.Lease)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	giveUp := p.o.GiveUpAfter[name]
	if giveUp <= 0 {
		giveUp = DefaultGiveUpAfter
	}
	var ask []string
	var events []message.Event
	marks := make([]PollMark, 0, len(msgs))
	for _, m := range msgs {
		if m.SentAt != nil && now.Sub(*m.SentAt) >= giveUp {
			// No report came and the provider will not say: record that we
			// lost track, which a later definite report may still replace.
			events = append(events, message.Event{ID: "poll/" + m.ProviderMessageID + "/gave-up", Report: &message.Report{
				ProviderMessageID: m.ProviderMessageID, Status: message.Unknown, ProviderStatus: "NO_REPORT", At: now}})
			marks = append(marks, PollMark{MessageID: m.ID})
			continue
		}
		ask = append(ask, m.ProviderMessageID)
		next := now.Add(min(after<<min(m.PollCount, 20), p.o.MaxInterval))
		marks = append(marks, PollMark{MessageID: m.ID, NextPollAt: &next})
	}
	if len(ask) > 0 {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		reports, err := p.p.QueryStatus(qctx, name, ask)
		cancel()
		if err != nil {
			if errors.Is(err, pluginhost.ErrUnavailable) || errors.Is(err, pluginhost.ErrNotSupported) {
				// Restarted since the claim (or now without the query):
				// the claimed messages are asked about once their lease ends.
				return 0, nil
			}
			return 0, fmt.Errorf("query status of %d messages: %w", len(ask), err)
		}
		for _, rep := range reports {
			if !message.Sent.MovesTo(rep.Status) {
				continue // nothing new
			}
			events = append(events, message.Event{ID: "poll/" + rep.ProviderMessageID + "/" + string(rep.Status), Report: &rep})
		}
	}
	if err := p.st.StoreEvents(ctx, name, events); err != nil {
		return 0, err
	}
	p.log.Debug("polled statuses", "provider", name, "asked", len(ask), "new", len(events))
	return len(msgs), p.st.MarkPolled(ctx, marks, now)
}
