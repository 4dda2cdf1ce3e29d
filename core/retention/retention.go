package retention

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Store is what Run asks to forget; the store implements it.
type Store interface {
	// ForgetExpired deletes idempotency records and duplicate claims past
	// their time.
	ForgetExpired(ctx context.Context) error
	// Prune deletes history past the periods of p (OrDefaults applied)
	// and counts what it deleted, also when it fails part way.
	Prune(ctx context.Context, p Policy) (Pruned, error)
}

// DefaultInterval is how often Run forgets by default.
const DefaultInterval = 10 * time.Minute

// Options tune Run; zero values take the defaults.
type Options struct {
	// Interval is the time between rounds (default DefaultInterval).
	Interval time.Duration
	// Policy says how long history is kept.
	Policy Policy
	Logger hclog.Logger
}

// Run forgets every Interval until ctx ends. A round that fails is logged
// and the next tries again: nothing but space is lost meanwhile.
func Run(ctx context.Context, st Store, o Options) {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		forget(ctx, st, o)
	}
}

// forget runs one round.
func forget(ctx context.Context, st Store, o Options) {
	if err := st.ForgetExpired(ctx); err != nil && ctx.Err() == nil {
		o.Logger.Warn("forgetting expired idempotency records failed", "error", err)
	}
	p, err := st.Prune(ctx, o.Policy)
	if err != nil && ctx.Err() == nil {
		o.Logger.Warn("pruning old records failed; the next run tries again", "error", err)
	}
	if p.Total() > 0 {
		o.Logger.Debug("pruned old records", "rate_windows", p.RateWindows, "otp_codes", p.OTPCodes,
			"webhooks", p.Webhooks, "webhook_attempts", p.WebhookAttempts, "event_ids", p.ProcessedEvents,
			"held_reports", p.HeldStatuses, "sealed_texts", p.SealedTexts)
	}
}
