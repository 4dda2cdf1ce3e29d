package core

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/numbers"
)

// PluginNumberSource is the plugin host as the number sync sees it: which
// providers list their numbers (phones' and modems' SIMs), and the list.
type PluginNumberSource interface {
	NumberListers() []string
	ProviderNumbers(ctx context.Context, name string) ([]numbers.Listed, error)
	// FactsChanged is signalled when a provider's health or devices
	// change, so its numbers are read again at once; nil: never.
	FactsChanged() <-chan struct{}
}

// PluginNumberStore reconciles a provider's listed numbers with the
// inventory; the store implements it.
type PluginNumberStore interface {
	ReconcilePluginNumbers(ctx context.Context, provider string, ns []numbers.Number) (numbers.Reconciled, error)
}

// DefaultNumberSyncEvery is how often providers' numbers are read again.
const DefaultNumberSyncEvery = 30 * time.Second

// NumberSyncOptions tune SyncPluginNumbers.
type NumberSyncOptions struct {
	Every  time.Duration
	Logger hclog.Logger
}

// SyncPluginNumbers keeps the inventory's plugin numbers in step with what
// each provider lists, at once, then every o.Every and whenever the source
// says providers' facts changed, until ctx ends. A
// provider that cannot answer now keeps its numbers as they are: a plugin
// restart must not retire a pool of SIMs.
func SyncPluginNumbers(ctx context.Context, src PluginNumberSource, st PluginNumberStore, o NumberSyncOptions) {
	if o.Every <= 0 {
		o.Every = DefaultNumberSyncEvery
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	t := time.NewTicker(o.Every)
	defer t.Stop()
	for {
		for _, name := range src.NumberListers() {
			syncProviderNumbers(ctx, src, st, name, o.Logger)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-src.FactsChanged():
		}
	}
}

// syncProviderNumbers brings one provider's listed numbers into the inventory.
func syncProviderNumbers(ctx context.Context, src PluginNumberSource, st PluginNumberStore, name string, log hclog.Logger) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	listed, err := src.ProviderNumbers(lctx, name)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("could not read the provider's numbers; its inventory numbers stay as they are", "provider", name, "error", err)
		}
		return
	}
	ns := make([]numbers.Number, 0, len(listed))
	for _, l := range listed {
		n, err := NumberOf(l.Number, l.Country)
		if err != nil {
			log.Warn("provider listed a number the inventory cannot take; left out", "provider", name, "error", err)
			continue
		}
		n.Provider, n.Source, n.Receive, n.Send, n.State = name, numbers.SourcePlugin, true, l.CanSend, numbers.Available
		ns = append(ns, n)
	}
	r, err := st.ReconcilePluginNumbers(ctx, name, ns)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("could not bring the provider's numbers into the inventory; the next round tries again", "provider", name, "error", err)
	case r.Added+r.Restored+r.Retired > 0:
		log.Info("provider's numbers synced into the inventory", "provider", name, "listed", len(ns),
			"added", r.Added, "restored", r.Restored, "retired", r.Retired)
	}
}

// ConfigNumbers are the numbers one provider block of the config lists,
// as written there (E.164, or a short code with its country after a
// slash).
type ConfigNumbers struct {
	Provider string
	Numbers  []string
}

// ConfigNumberStore adds numbers to the inventory, leaving those it has
// alone; the store implements it.
type ConfigNumberStore interface {
	SyncNumbers(ctx context.Context, ns []numbers.Number) (int, error)
}

// SyncConfigNumbers puts the numbers the config's provider blocks list into
// the inventory as available receiving numbers of those providers, and
// returns how many were listed and how many were new. A number that does
// not read is an error naming its provider, and nothing is added.
func SyncConfigNumbers(ctx context.Context, st ConfigNumberStore, listed []ConfigNumbers) (total, added int, err error) {
	var ns []numbers.Number
	for _, p := range listed {
		for _, raw := range p.Numbers {
			n, err := NumberOf(raw, "")
			if err != nil {
				return 0, 0, fmt.Errorf("provider %q: %w", p.Provider, err)
			}
			n.Provider, n.Source, n.Receive, n.State = p.Provider, numbers.SourceConfig, true, numbers.Available
			ns = append(ns, n)
		}
	}
	if len(ns) == 0 {
		return 0, 0, nil
	}
	added, err = st.SyncNumbers(ctx, ns)
	if err != nil {
		return len(ns), 0, fmt.Errorf("add the config's numbers to the inventory: %w", err)
	}
	return len(ns), added, nil
}
