package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/routing"
)

// reloader re-reads the config file on SIGHUP or the admin endpoint and
// swaps the routing table. A file that does not load, or that changes the
// providers (whose processes a reload does not restart), is refused and the
// running table stays.
type reloader struct {
	path   string
	router *routing.Router
	log    hclog.Logger
	hup    chan os.Signal

	mu      sync.Mutex // one reload at a time
	running *config.Config
	// setLimits, when set, hands the providers' limits to the dispatcher.
	setLimits func(dispatch.Limits)
	// setInboundOwners, when set, hands the store the accounts that own
	// inbound messages to each number (api account_sender_ids).
	setInboundOwners func(map[string]string)
	// setInboundRules, when set, hands the store the inbound rules.
	setInboundRules func(*inbound.Rules)
	// reloadTLS, when set, re-reads the TLS certificate files (it logs
	// the outcome).
	reloadTLS func() error
	// accountExists, when set, says whether an account of that name
	// exists, so a rule naming a misspelt account is warned about at the
	// reload instead of at the first message it claims.
	accountExists func(ctx context.Context, name string) (bool, error)
}

func newReloader(path string, running *config.Config, router *routing.Router, log hclog.Logger) *reloader {
	r := &reloader{path: path, router: router, log: log.Named("reload"), running: running, hup: make(chan os.Signal, 1)}
	// Registered before serving starts: SIGHUP's default action would end
	// the process.
	signal.Notify(r.hup, syscall.SIGHUP)
	return r
}

// run reloads on every SIGHUP until ctx ends.
func (r *reloader) run(ctx context.Context) {
	defer signal.Stop(r.hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.hup:
			_ = r.Reload(ctx) // Reload logs the outcome.
		}
	}
}

// Reload loads the config file and swaps in its routing table, the
// providers' limits, the owners of inbound numbers and the inbound rules.
func (r *reloader) Reload(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reloadTLS != nil {
		// Whatever the config file says: renewed certificates are
		// usually what a SIGHUP is sent for, and an unusable new pair
		// keeps the one in use.
		_ = r.reloadTLS()
	}
	cfg, err := loadConfig(r.path)
	if err == nil {
		err = sameProviders(r.running.Providers, cfg.Providers)
	}
	if err != nil {
		r.log.Error("reload refused; the running routing table stays", "config", r.running.Filename, "error", err)
		return fmt.Errorf("reload refused, the running routing table stays:\n%w", err)
	}
	if !reflect.DeepEqual(cfg.Server, r.running.Server) || cfg.Database != r.running.Database {
		r.log.Warn("server and database settings changed; they apply at the next restart")
	}
	if !cfg.Webhooks.Equal(r.running.Webhooks) {
		r.log.Warn("webhooks settings changed; they apply at the next restart")
	}
	r.router.Swap(cfg.Table)
	if r.setLimits != nil {
		r.setLimits(providerLimits(cfg.Providers))
	}
	if r.setInboundOwners != nil {
		r.setInboundOwners(inboundOwners(cfg.API, r.log))
	}
	if r.setInboundRules != nil {
		r.setInboundRules(cfg.Inbound.WithLogger(r.log.Named("inbound")))
	}
	r.warnUnknownAccounts(ctx, cfg.InboundRules)
	changes := configChanges(r.running, cfg)
	r.running = cfg
	r.log.Info("routing table reloaded", append([]any{"config", cfg.Filename, "routes", len(cfg.Routes), "providers", len(cfg.Providers), "inbound_rules", cfg.Inbound.Len()}, changes...)...)
	return nil
}

// providerLimits collects the providers' limits blocks for the dispatcher.
func providerLimits(providers []config.Provider) dispatch.Limits {
	out := dispatch.Limits{}
	for _, p := range providers {
		if p.Limits != (config.Limits{}) {
			out[p.Name] = p.Limits
		}
	}
	return out
}

// sameProviders refuses provider changes: a reload swaps routes, prices,
// limits and the routing block, but provider processes only change with a
// restart, and a route naming a provider that is not running could not be
// served.
func sameProviders(old, cur []config.Provider) error {
	byName := map[string]config.Provider{}
	for _, p := range old {
		byName[p.Name] = p
	}
	var added, changed, removed []string
	seen := map[string]bool{}
	for _, p := range cur {
		seen[p.Name] = true
		o, ok := byName[p.Name]
		switch {
		case !ok:
			added = append(added, p.Name)
		case o.Plugin != p.Plugin || o.Path != p.Path || o.SHA256 != p.SHA256 || !bytes.Equal(o.Settings, p.Settings) ||
			o.PollStatusAfter != p.PollStatusAfter:
			changed = append(changed, p.Name)
		}
	}
	for _, p := range old {
		if !seen[p.Name] {
			removed = append(removed, p.Name)
		}
	}
	if len(added)+len(changed)+len(removed) == 0 {
		return nil
	}
	var parts []string
	for _, x := range []struct {
		what  string
		names []string
	}{{"added", added}, {"changed", changed}, {"removed", removed}} {
		if len(x.names) > 0 {
			sort.Strings(x.names)
			parts = append(parts, x.what+" "+strings.Join(x.names, ", "))
		}
	}
	return fmt.Errorf("providers changed (%s); a reload applies routes, pricing, limits, the routing block and the owners of inbound numbers only, so restart smsrouter to apply provider changes",
		strings.Join(parts, "; "))
}

// warnUnknownAccounts logs each inbound rule whose account does not exist:
// the messages it claims are kept for admins only, which nobody notices
// until someone asks where their replies went.
func (r *reloader) warnUnknownAccounts(ctx context.Context, rules []inbound.RuleConfig) {
	if r.accountExists == nil {
		return
	}
	for _, rule := range rules {
		if rule.Account == "" {
			continue
		}
		ok, err := r.accountExists(ctx, rule.Account)
		if err != nil {
			r.log.Warn("could not check the account an inbound rule names", "rule", rule.Name, "account", rule.Account, "error", err)
		} else if !ok {
			r.log.Warn("inbound rule names an account that does not exist; the messages it claims will be kept for admins only ('smsrouter accounts list' shows the names)",
				"rule", rule.Name, "account", rule.Account)
		}
	}
}
