package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/configs"
	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/providerstats"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/server"
)

// loadConfig reads the config file, or the embedded default when path is empty.
func loadConfig(path string) (*config.Config, error) {
	opts := config.Options{BuiltinKinds: builtinKinds()}
	if path == "" {
		return config.Parse(configs.Default, configs.DefaultFilename, opts)
	}
	return config.Load(path, opts)
}

func openStore(ctx context.Context, cfg *config.Config, log hclog.Logger) (*store.Store, error) {
	b, err := billingOf(cfg)
	if err != nil {
		return nil, err
	}
	keys, err := secretKeys(cfg)
	if err != nil {
		return nil, err
	}
	return store.Open(ctx, store.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN, Logger: log, Billing: b, Keys: keys})
}

// billingOf turns the api block's credit settings into the store's.
func billingOf(cfg *config.Config) (store.Billing, error) {
	b := store.Billing{Currency: cmp.Or(cfg.API.Currency, cfg.Routing.Currency, routing.DefaultCurrency)}
	var err error
	if b.OpeningCredit, err = money.FromFloat(cfg.API.DefaultCredit); err != nil {
		return store.Billing{}, fmt.Errorf("api default_credit: %w", err)
	}
	for _, f := range []struct {
		src *float64
		dst **money.Amount
	}{{cfg.API.CreditLimit, &b.CreditLimit}, {cfg.API.LowBalance, &b.LowBalance}} {
		if f.src == nil {
			continue
		}
		a, err := money.FromFloat(*f.src)
		if err != nil {
			return store.Billing{}, fmt.Errorf("api block: %w", err)
		}
		*f.dst = &a
	}
	return b, nil
}

func newLogger(w io.Writer) hclog.Logger {
	level := hclog.Info
	if l := os.Getenv("SMSROUTER_LOG_LEVEL"); l != "" {
		level = hclog.LevelFromString(l)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "smsrouter", Output: w, Level: level})
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve")
	cfgPath := fs.String("config", "", "config file (default: the embedded default, SQLite + sandbox)")
	listen := fs.String("listen", "", "address to listen on (default: the config's server.listen, 127.0.0.1:3005)")
	pprofAddr := fs.String("pprof", "", "serve Go's runtime profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060; off by default")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	log := newLogger(stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := ensureKeyFile(cfg, log); err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	// Listen before launching plugins so a taken port fails fast and the
	// hook URL we hand plugins is the one we really serve.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another smsrouter running? choose another address with --listen)", cfg.Server.Listen, err)
	}
	publicURL := resolvePublicURL(cfg.Server.PublicURL, ln.Addr().String())

	// Reports from every provider share commits; closed after the plugins
	// have stopped (deferred before host.Stop, so it runs after it).
	batcher := store.NewEventBatcher(st, store.BatcherOptions{})
	defer batcher.Close()
	gate := dispatch.NewReportGate()
	events := reportsAfterRounds{next: batcher, gate: gate}
	host := pluginhost.New(pluginhost.Options{Logger: log, Events: events})
	specs, pollAfter, pollFor := providerSpecs(cfg.Providers, publicURL)
	if err := host.Start(ctx, specs); err != nil {
		ln.Close()
		return fmt.Errorf("start providers: %w", err)
	}
	defer host.Stop()
	// The first key is shown only once, so it is made once nothing else can
	// fail: printed by a run that then stopped with an error, it would
	// scroll by unnoticed and never be shown again.
	if err := bootstrapKey(ctx, st, stdout); err != nil {
		ln.Close()
		return err
	}

	stats := providerstats.New(nil)
	live := core.LiveState{Host: host, Stats: stats}
	mx := newMetrics(cfg.Server.Metrics, st, host, log)
	disp := dispatch.New(st, mx.providers(host), dispatch.Options{Logger: log, Observer: stats, Metrics: mx.dispatch(), Gate: gate,
		SendTimeout: cfg.Dispatch.SendTimeout, Lease: cfg.Dispatch.Lease, Limits: providerLimits(cfg.Providers), Health: live})
	// Routing: the router holds the compiled table; SIGHUP and the admin
	// reload endpoint swap it (see reload.go).
	router := routing.NewRouter(cfg.Table, live, routing.WithLogger(log))
	reload := newReloader(*cfgPath, cfg, router, log)
	reload.setLimits = disp.SetLimits
	reload.setInboundOwners = st.SetInboundOwners
	// Concurrent sends share commits; see docs/performance.md.
	accepts := store.NewBatcher(st, store.BatcherOptions{})
	defer accepts.Close()
	egressPolicy := webhookEgress(cfg.Webhooks, log)
	svc := core.NewService(st, router, disp, core.Options{Logger: log, API: &cfg.API, OTP: &cfg.OTP, State: live, Accepter: accepts, Counter: mx.accepted(),
		Egress: egressPolicy})
	handler := server.New(server.Options{Logger: log, Messages: svc, Keys: svc, Hooks: host, Events: events,
		Providers: host, ProviderLimits: func() map[string]config.Limits { return disp.Limits() },
		PublicURL: publicURL, Routes: router, Reload: reload.Reload,
		OTP: svc, Accounts: svc, API: &cfg.API, Table: router.Table, Plugins: host,
		Requests: mx.requests(), Metrics: mx.apiHandler(), Egress: egressPolicy})
	// Timeouts, the per-client connection cap and TLS: see docs/api.md
	// "Connections".
	srv, err := server.NewHTTP(handler, cfg.Server.Transport, log)
	if err != nil {
		ln.Close()
		return err
	}
	reload.reloadTLS = srv.ReloadTLS

	if *pprofAddr != "" {
		stopProfiles, err := serveProfiles(*pprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopProfiles()
	}
	stopMetrics, err := mx.serveOwn(log)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopMetrics()
	dctx, dcancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	hooks := newWebhooks(st, cfg.API, egressPolicy, log, mx.webhooks())
	if cfg.Server.Role != config.RoleAPI {
		// An API node leaves these to the nodes of role "all": its CPU
		// goes to requests, and their queues are in the shared database.
		wg.Go(func() { _ = disp.Run(dctx) })
		wg.Go(func() { _ = hooks.Run(dctx) })
		poller := dispatch.NewPoller(st, host, dispatch.PollOptions{Logger: log, After: pollAfter, GiveUpAfter: pollFor})
		wg.Go(func() { _ = poller.Run(dctx) })
	}
	wg.Go(func() { joinCluster(dctx, st, disp, cfg.Server.Role, log) })
	wg.Go(func() { reload.run(dctx) })
	wg.Go(func() { forgetExpired(dctx, st, cfg.Retention, log) })
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("smsrouter serving", "listen", ln.Addr().String(), "scheme", srv.Scheme(), "providers", len(specs), "database", cfg.Database.Driver, "role", cfg.Server.Role,
		"gogc", gcInForce())

	select {
	case <-ctx.Done():
		log.Info("shutting down: draining HTTP, then the dispatcher, then plugins")
	case err = <-serveErr:
		log.Error("HTTP server stopped", "error", err)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		log.Warn("HTTP shutdown", "error", serr)
	}
	// After the handlers: what they queued is stored before the store closes.
	accepts.Close()
	dcancel()
	wg.Wait()
	host.Stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// bootstrapKey creates the first account and an all-permission key when the
// database has no key at all, and prints it: without it nobody could call
// the API of a fresh install. Servers starting together on an empty
// database make one key between them; only the one that made it prints it.
func bootstrapKey(ctx context.Context, st *store.Store, stdout io.Writer) error {
	// A system admin: whoever starts the server runs the installation.
	raw, _, created, err := st.CreateFirstAPIKey(ctx, "first key", []string{account.PermSendSMS, account.PermReceiveSMS,
		account.PermSendOTP, account.PermVerifyOTP, account.PermSystemAdmin})
	if err != nil || !created {
		return err
	}
	fmt.Fprintf(stdout, "Created the first API key (shown only once, store it now):\n\n    %s\n\n", raw)
	return nil
}

// resolvePublicURL fills in what only the listener knows: with no public URL
// configured, or one derived from a listen address with port 0 (tests, ad-hoc
// runs), the address actually bound is what providers must call back.
func resolvePublicURL(configured, bound string) string {
	u, err := url.Parse(configured)
	if configured == "" || err != nil {
		return "http://" + bound
	}
	if u.Port() == "0" {
		u.Host = bound
	}
	return strings.TrimRight(u.String(), "/")
}

// forgetExpired deletes, every ten minutes, what only costs space: expired
// idempotency records and duplicate claims, spent rate windows and OTP
// codes, and finished webhook deliveries and provider event ids past their
// retention. Every server runs it; the store's deletes skip each other.
func forgetExpired(ctx context.Context, st *store.Store, r config.Retention, log hclog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := st.ForgetExpired(ctx); err != nil && ctx.Err() == nil {
			log.Warn("forgetting expired idempotency records failed", "error", err)
		}
		p, err := st.Prune(ctx, store.Retention{Webhooks: r.Webhooks, ProcessedEvents: r.EventIDs})
		if err != nil && ctx.Err() == nil {
			log.Warn("pruning old records failed; the next run tries again", "error", err)
		}
		if p.Total() > 0 {
			log.Debug("pruned old records", "rate_windows", p.RateWindows, "otp_codes", p.OTPCodes,
				"webhooks", p.Webhooks, "webhook_attempts", p.WebhookAttempts, "event_ids", p.ProcessedEvents, "held_reports", p.HeldStatuses)
		}
	}
}

// reportsAfterRounds stores provider events; status reports first wait for
// the dispatch rounds sending to their provider to record the answers (see
// dispatch.ReportGate).
type reportsAfterRounds struct {
	next interface {
		StoreEvents(ctx context.Context, provider string, events []sdk.Event) error
	}
	gate *dispatch.ReportGate
}

func (r reportsAfterRounds) StoreEvents(ctx context.Context, provider string, events []sdk.Event) error {
	for _, ev := range events {
		if ev.Status != nil {
			r.gate.AwaitRounds(ctx, provider)
			break
		}
	}
	return r.next.StoreEvents(ctx, provider, events)
}

// nodeID names this process among the servers sharing the database: the
// host name and process id tell an operator which one it is, the random
// part keeps a restarted process with a reused pid apart.
func nodeID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	id := fmt.Sprintf("%s-%d-%x", host, os.Getpid(), b)
	if len(id) > 64 {
		id = id[len(id)-64:]
	}
	return id
}

// providerSpecs turns the configured providers into plugin specs, with the
// status-poll timings of those that set them.
func providerSpecs(providers []config.Provider, publicURL string) (specs []pluginhost.Spec, pollAfter, pollFor map[string]time.Duration) {
	pollAfter, pollFor = map[string]time.Duration{}, map[string]time.Duration{}
	for _, p := range providers {
		if p.PollStatusAfter > 0 {
			pollAfter[p.Name] = p.PollStatusAfter
		}
		if p.PollStatusFor > 0 {
			pollFor[p.Name] = p.PollStatusFor
		}
		specs = append(specs, pluginhost.Spec{Name: p.Name, Kind: p.Plugin, Path: p.Path, SHA256: p.SHA256, Settings: p.Settings,
			HookURL: strings.TrimRight(publicURL, "/") + "/api/v1/providers/" + p.Name + "/hooks"})
	}
	return specs, pollAfter, pollFor
}

// joinCluster keeps this node's heartbeat until ctx ends: sending nodes
// share the providers' tps and concurrency limits through it
// (docs/architecture.md, "Node roles"); API nodes are counted out.
func joinCluster(ctx context.Context, st *store.Store, disp *dispatch.Dispatcher, role string, log hclog.Logger) {
	sending := role != config.RoleAPI
	if !sending {
		disp = nil
	}
	dispatch.Membership(ctx, st, disp, dispatch.MembershipOptions{NodeID: nodeID(), Sending: sending, Logger: log})
}
