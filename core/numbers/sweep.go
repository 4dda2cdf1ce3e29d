package numbers

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Sweeper is what Sweep asks of the database; the store implements it.
// Each change must be conditional on the row's state, so that servers
// sweeping one database together move each number once.
type Sweeper interface {
	SweepNumbers(ctx context.Context, now time.Time, p Policy) (Swept, error)
}

// DefaultSweepEvery is how often Sweep runs by default.
const DefaultSweepEvery = 15 * time.Second

// SweepOptions tune Sweep.
type SweepOptions struct {
	Every  time.Duration
	Policy Policy
	Logger hclog.Logger
	Now    func() time.Time
}

// Sweep ends due leases (into quarantine) and due quarantines (back to
// the pool) every o.Every until ctx ends. A failed round is logged; the
// next one catches up, since it takes everything due by then.
func Sweep(ctx context.Context, st Sweeper, o SweepOptions) {
	if o.Every <= 0 {
		o.Every = DefaultSweepEvery
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := o.Policy.OrDefaults()
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		swept, err := st.SweepNumbers(ctx, o.Now(), p)
		switch {
		case err != nil && ctx.Err() == nil:
			o.Logger.Warn("ending number leases failed; the next round tries again", "error", err)
		case swept.Ended+swept.Freed > 0:
			o.Logger.Debug("number leases swept", "ended", swept.Ended, "refunded", swept.Refunded, "freed", swept.Freed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
