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
	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/providerstats"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/webhook"
	"github.com/smsrouter/smsrouter/routing"
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
	return store.Open(ctx, store.Options{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN, Logger: log, Billing: b, Keys: keys,
		EventIDRetention: cfg.Retention.EventIDs})
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
	n := &node{cfg: cfg, cfgPath: *cfgPath, log: log}
	defer n.close()
	if err := n.start(ctx, *pprofAddr, stdout); err != nil {
		return err
	}
	return n.serve(ctx)
}

// node is a running server: what serveCmd wires together, and the order
// it is taken apart in.
type node struct {
	cfg     *config.Config
	cfgPath string
	log     hclog.Logger
	// closers run in reverse order by close.
	closers []func()

	st        *store.Store
	ln        net.Listener
	publicURL string
	gate      *dispatch.ReportGate
	events    dispatch.EventStore
	host      *pluginhost.Host
	specs     []pluginhost.Spec
	pollAfter map[string]time.Duration
	pollFor   map[string]time.Duration
	mx        runMetrics
	disp      *dispatch.Dispatcher
	router    *routing.Router
	reload    *reloader
	accepts   *store.Batcher
	egress    *egress.Policy
	svc       *core.Service
	srv       *server.HTTP
	// workers run until stopWorkers.
	workers     sync.WaitGroup
	stopWorkers context.CancelFunc
}

// onClose adds f to what close runs, before everything added earlier.
func (n *node) onClose(f func()) { n.closers = append(n.closers, f) }

// close takes apart what start built, newest first.
func (n *node) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}

// start builds the server in order; on an error, close takes apart what
// was built.
func (n *node) start(ctx context.Context, pprofAddr string, stdout io.Writer) error {
	steps := []func() error{
		func() error { return n.openStore(ctx) },
		n.listen,
		func() error { return n.startPlugins(ctx) },
		// The first key is shown only once, so it is made once nothing
		// else can fail: printed by a run that then stopped with an
		// error, it would scroll by unnoticed and never be shown again.
		func() error { return bootstrapKey(ctx, n.st, stdout) },
		n.buildCore,
		// After the first account exists: the rules may name it.
		func() error { n.reload.warnUnknownAccounts(ctx, n.cfg.InboundRules); return nil },
		n.buildHTTP,
		func() error { return n.serveDiagnostics(pprofAddr) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	n.startWorkers()
	return nil
}

// openStore opens the database, with the server key made first if it is
// to be generated.
func (n *node) openStore(ctx context.Context) error {
	if err := ensureKeyFile(n.cfg, n.log); err != nil {
		return err
	}
	st, err := openStore(ctx, n.cfg, n.log)
	if err != nil {
		return err
	}
	n.st = st
	n.onClose(func() { st.Close() })
	return nil
}

// listen takes the address before plugins start, so that a taken port
// fails fast and the hook URL plugins are given is the one served.
func (n *node) listen() error {
	ln, err := net.Listen("tcp", n.cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another smsrouter running? choose another address with --listen)", n.cfg.Server.Listen, err)
	}
	n.ln = ln
	// Serve closes it; closing it again is harmless.
	n.onClose(func() { ln.Close() })
	n.publicURL = resolvePublicURL(n.cfg.Server.PublicURL, ln.Addr().String())
	return nil
}

// startPlugins starts the provider plugins, their events stored in shared
// commits, status reports after the dispatch rounds sending to their
// provider (dispatch.ReportGate).
func (n *node) startPlugins(ctx context.Context) error {
	batcher := store.NewEventBatcher(n.st, store.BatcherOptions{})
	// Closed after the plugins have stopped.
	n.onClose(batcher.Close)
	n.gate = dispatch.NewReportGate()
	n.events = n.gate.Guard(batcher)
	// Before the first event: which account owns inbound messages to
	// which number (the api block's account_sender_ids).
	n.st.SetInboundOwners(inboundOwners(n.cfg.API, n.log))
	n.st.SetInboundRules(n.cfg.Inbound.WithLogger(n.log.Named("inbound")))
	find, err := codeFinder(n.cfg.OTP)
	if err != nil {
		return err
	}
	n.st.SetCodeFinder(find)
	if err := syncConfigNumbers(ctx, n.st, n.cfg, n.log); err != nil {
		return fmt.Errorf("numbers of the provider blocks: %w", err)
	}
	n.host = pluginhost.New(pluginhost.Options{Logger: n.log, Events: n.events})
	n.specs, n.pollAfter, n.pollFor = providerSpecs(n.cfg.Providers, n.publicURL)
	if err := n.host.Start(ctx, n.specs); err != nil {
		return fmt.Errorf("start providers: %w", err)
	}
	n.onClose(n.host.Stop)
	// Before any message is sent: only the polled providers' messages are
	// kept for the poller, so the others' reports update them in place.
	n.st.SetPolledProviders(polledProviders(n.host, n.pollAfter))
	return nil
}

// polledProviders names the providers the status poller may ask: those
// with a poll interval whose plugin answers status queries, or whose
// plugin does not run yet to say (it may once it runs). Polling is on by
// default, so an SMPP provider has an interval but is never asked.
func polledProviders(host *pluginhost.Host, after map[string]time.Duration) []string {
	var out []string
	for name := range after {
		caps, err := host.Capabilities(name)
		if err != nil || caps.StatusQuery {
			out = append(out, name)
		}
	}
	return out
}

// buildCore wires routing, dispatch and the service the API calls.
func (n *node) buildCore() error {
	cfg, log := n.cfg, n.log
	stats := providerstats.New(nil)
	live := core.LiveState{Host: n.host, Stats: stats}
	n.mx = newMetrics(cfg.Server.Metrics, n.st, n.host, log)
	// Routing: the router holds the compiled table; SIGHUP and the admin
	// reload endpoint swap it (see reload.go). Scheduled messages are
	// routed again with it when they are due.
	n.router = routing.NewRouter(cfg.Table, live, routing.WithLogger(log))
	n.disp = dispatch.New(n.st, n.mx.providers(n.host), dispatch.Options{Logger: log, Observer: stats, Metrics: n.mx.dispatch(), Gate: n.gate,
		SendTimeout: cfg.Dispatch.SendTimeout, Lease: cfg.Dispatch.Lease, Limits: providerLimits(cfg.Providers), Health: live,
		Rerouter: core.Rerouter{Planner: n.router}})
	n.reload = newReloader(n.cfgPath, cfg, n.router, log)
	n.reload.setLimits = n.disp.SetLimits
	n.reload.setInboundOwners = n.st.SetInboundOwners
	n.reload.setInboundRules = n.st.SetInboundRules
	n.reload.accountExists = func(ctx context.Context, name string) (bool, error) {
		_, err := n.st.AccountByName(ctx, name)
		if errors.Is(err, account.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	// Concurrent sends share commits; see docs/performance.md.
	n.accepts = store.NewBatcher(n.st, store.BatcherOptions{})
	n.onClose(n.accepts.Close)
	n.egress = webhookEgress(cfg.Webhooks, log)
	n.svc = core.NewService(n.st, n.router, n.disp, core.Options{Logger: log, API: &cfg.API, OTP: &cfg.OTP, State: live, Accepter: n.accepts,
		Counter: n.mx.accepted(), Egress: n.egress, Numbers: numberOptions(cfg),
		// Test events go out as the deliverer sends webhooks, signed and
		// through the same egress policy, but are never queued.
		Webhooks: webhook.New(nil, webhook.Options{Logger: log, Egress: n.egress})})
	return nil
}

// buildHTTP makes the API's HTTP server.
func (n *node) buildHTTP() error {
	cfg := n.cfg
	disp, router := n.disp, n.router
	handler := server.New(server.Options{Logger: n.log, Messages: n.svc, Keys: n.svc, Hooks: n.host, Events: n.events,
		Providers: n.host, Controls: n.host, ProviderLimits: func() map[string]config.Limits { return disp.Limits() },
		PublicURL: n.publicURL, Routes: router, Reload: n.reload.Reload,
		OTP: n.svc, Accounts: n.svc, API: &cfg.API, Table: router.Table, Plugins: n.host,
		Requests: n.mx.requests(), Metrics: n.mx.apiHandler(), Egress: n.egress, Numbers: n.svc,
		ConsoleSecureCookies: cfg.Server.Console.SecureCookies, WebhookTests: n.svc})
	// Timeouts, the per-client connection cap and TLS: see docs/api.md
	// "Connections".
	srv, err := server.NewHTTP(handler, cfg.Server.Transport, n.log)
	if err != nil {
		return err
	}
	n.srv = srv
	n.reload.reloadTLS = srv.ReloadTLS
	return nil
}

// serveDiagnostics serves Go's profiles when asked for, and the metrics on
// their own address when configured so.
func (n *node) serveDiagnostics(pprofAddr string) error {
	if pprofAddr != "" {
		stopProfiles, err := serveProfiles(pprofAddr, n.log)
		if err != nil {
			return err
		}
		n.onClose(stopProfiles)
	}
	stopMetrics, err := n.mx.serveOwn(n.log)
	if err != nil {
		return err
	}
	n.onClose(stopMetrics)
	return nil
}

// startWorkers starts what runs beside the API until shutdown: on sending
// nodes the dispatcher, the webhook deliverer and the status poller; on
// every node the cluster heartbeat, config reloads and forgetting.
func (n *node) startWorkers() {
	cfg, log, st := n.cfg, n.log, n.st
	ctx, cancel := context.WithCancel(context.Background())
	n.stopWorkers = cancel
	hooks := newWebhooks(st, n.egress, log, n.mx.webhooks())
	if cfg.Server.Role != config.RoleAPI {
		// An API node leaves these to the nodes of role "all": its CPU
		// goes to requests, and their queues are in the shared database.
		n.workers.Go(func() { _ = n.disp.Run(ctx) })
		n.workers.Go(func() { _ = hooks.Run(ctx) })
		poller := dispatch.NewPoller(st, n.host, dispatch.PollOptions{Logger: log, After: n.pollAfter, GiveUpAfter: n.pollFor})
		n.workers.Go(func() { _ = poller.Run(ctx) })
	}
	n.workers.Go(func() { joinCluster(ctx, st, n.disp, cfg.Server.Role, log) })
	n.workers.Go(func() { n.reload.run(ctx) })
	n.workers.Go(func() {
		core.SyncPluginNumbers(ctx, n.host, st, core.NumberSyncOptions{Logger: log.Named("numbers")})
	})
	n.workers.Go(func() {
		numbers.Sweep(ctx, st, numbers.SweepOptions{Every: cfg.Numbers.SweepEvery, Policy: numberPolicy(cfg.Numbers), Logger: log.Named("numbers")})
	})
	n.workers.Go(func() {
		retention.Run(ctx, st, retention.Options{Logger: log,
			Policy: retention.Policy{Webhooks: cfg.Retention.Webhooks, ProcessedEvents: cfg.Retention.EventIDs}})
	})
}

// serve answers requests until ctx ends or the HTTP server fails, then
// shuts down in order: HTTP drained, what the handlers queued stored, the
// workers stopped; close then stops the plugins and the store.
func (n *node) serve(ctx context.Context) error {
	log := n.log
	serveErr := make(chan error, 1)
	go func() { serveErr <- n.srv.Serve(n.ln) }()
	log.Info("smsrouter serving", "listen", n.ln.Addr().String(), "scheme", n.srv.Scheme(), "providers", len(n.specs),
		"database", n.cfg.Database.Driver, "role", n.cfg.Server.Role, "gogc", gcInForce())
	var err error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining HTTP, then the dispatcher, then plugins")
	case err = <-serveErr:
		log.Error("HTTP server stopped", "error", err)
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if serr := n.srv.Shutdown(shutCtx); serr != nil {
		log.Warn("HTTP shutdown", "error", serr)
	}
	// After the handlers: what they queued is stored before the store closes.
	n.accepts.Close()
	n.stopWorkers()
	n.workers.Wait()
	n.host.Stop()
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
		specs = append(specs, pluginhost.Spec{Name: p.Name, Kind: pluginhost.PluginKind(p.Plugin), Path: p.Path, SHA256: p.SHA256, Settings: p.Settings,
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
