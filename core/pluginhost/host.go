package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/sdk"
)

// EventStore durably stores the events a provider reports. The host
// acknowledges an event to its plugin only after StoreEvents returned nil.
type EventStore interface {
	StoreEvents(ctx context.Context, provider string, events []message.Event) error
}

// PluginKind names a built-in plugin: which provider implementation
// ("smpp", "twilio", "sandbox") a configured provider runs, the `plugin`
// of a provider block and routing's `provider_kind`. Not to be confused
// with a message's kind (message.Kind).
type PluginKind string

// Spec says how to run one configured provider.
type Spec struct {
	// Name is the configured provider name ("smpp-eu-1").
	Name string
	// Kind is the built-in plugin kind ("sandbox"); the host runs its own
	// executable as "plugin serve <Kind>".
	Kind PluginKind
	// Path is an external plugin binary, used instead of Kind when set.
	Path string
	// SHA256, when set, pins Path: a binary with another digest is refused.
	SHA256 string
	// Settings is the provider's config as JSON.
	Settings json.RawMessage
	// HookURL is where the provider's upstream calls us back.
	HookURL string
	// InProcess runs this provider value inside the host instead of a
	// process: tests use it to exercise core without building binaries.
	InProcess sdk.Provider
}

// State is where a provider's plugin process stands.
type State string

// The states a provider moves through.
const (
	StateStarting   State = "starting"
	StateRunning    State = "running"
	StateRestarting State = "restarting"
	StateCrashLoop  State = "crash_loop"
	StateStopped    State = "stopped"
)

// ProviderStatus is what operators see of one provider.
type ProviderStatus struct {
	Name         string `json:"name"`
	Plugin       string `json:"plugin"`
	State        State  `json:"state"`
	PID          int    `json:"pid,omitempty"`
	Restarts     int    `json:"restarts"`
	LastError    string `json:"last_error,omitempty"`
	Healthy      bool   `json:"healthy"`
	HealthDetail string `json:"health_detail,omitempty"`
	// Balance is the provider account's credit as the plugin last reported
	// it, nil when it never did.
	Balance      *provider.Balance `json:"balance,omitempty"`
	BalanceAt    *time.Time        `json:"balance_at,omitempty"`
	Capabilities provider.Features `json:"capabilities"`
	// RefuseWhileDown: the provider asked, with its last health, that
	// messages with no other candidate be refused at accept while it is
	// unhealthy (sdk.Health.RefuseWhileDown).
	RefuseWhileDown bool `json:"refuse_while_down,omitempty"`
	// Operators and Countries are the networks the provider said it can
	// send on now (sdk.NetworkReporter); nil when it does not say.
	Operators []string `json:"operators,omitempty"`
	Countries []string `json:"countries,omitempty"`
	// Devices are its phones or modem ports as of the last health check
	// (sdk.DeviceReporter); shared, never modified.
	Devices []provider.Device `json:"devices,omitempty"`
}

// Options configure a Host.
type Options struct {
	// Executable is the smsrouter binary that serves built-in plugins;
	// defaults to the running executable.
	Executable string
	Logger     hclog.Logger
	Events     EventStore
	// HealthInterval is how often a running plugin is asked for its health.
	HealthInterval time.Duration
	// BalanceInterval is how often a plugin that reports balances is asked
	// for its account's credit (default 5m); routing rules read it.
	BalanceInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between relaunches.
	MinBackoff, MaxBackoff time.Duration
	// CrashLoopAfter is how many launches in a row that fail or die before
	// running StableAfter mark a provider as crash-looping.
	CrashLoopAfter int
	StableAfter    time.Duration
	StartTimeout   time.Duration
}

// ErrUnknownProvider is returned for a provider name that is not configured.
var ErrUnknownProvider = errors.New("unknown provider")

// Host runs and supervises the plugin processes of all configured providers.
type Host struct {
	opts Options
	log  hclog.Logger

	mu        sync.RWMutex
	providers map[string]*supervised
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// changed is signalled when a provider's health, networks or devices
	// change; see FactsChanged.
	changed chan struct{}
}

// New returns a Host; Start launches its providers.
func New(opts Options) *Host {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.HealthInterval <= 0 {
		opts.HealthInterval = 15 * time.Second
	}
	if opts.BalanceInterval <= 0 {
		opts.BalanceInterval = 5 * time.Minute
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 200 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.CrashLoopAfter <= 0 {
		opts.CrashLoopAfter = 3
	}
	if opts.StableAfter <= 0 {
		opts.StableAfter = time.Minute
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	return &Host{opts: opts, log: opts.Logger.Named("pluginhost"), providers: map[string]*supervised{}, changed: make(chan struct{}, 1)}
}

// Start launches every provider in parallel and returns once each has
// started or failed its first launch. A provider that cannot start the first
// time (missing binary, failed handshake, refused config) is an error: the
// operator must see it at start, not find messages piling up later. On error
// the providers that did start are stopped again.
func (h *Host) Start(ctx context.Context, specs []Spec) error {
	runCtx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	firsts := make([]chan error, len(specs))
	h.mu.Lock()
	for i, spec := range specs {
		s := &supervised{host: h, spec: spec, state: StateStarting,
			log: h.opts.Logger.Named(spec.Name).With("provider", spec.Name, "plugin", spec.pluginName())}
		h.providers[spec.Name] = s
		firsts[i] = make(chan error, 1)
		h.wg.Add(1)
		go func(first chan error) {
			defer h.wg.Done()
			s.run(runCtx, first)
		}(firsts[i])
	}
	h.mu.Unlock()
	var errs []error
	for i, ch := range firsts {
		select {
		case err := <-ch:
			if err != nil {
				errs = append(errs, fmt.Errorf("provider %q: %w", specs[i].Name, err))
			}
		case <-ctx.Done():
			errs = append(errs, ctx.Err())
		}
	}
	if err := errors.Join(errs...); err != nil {
		h.Stop()
		return err
	}
	return nil
}

// Stop stops every plugin in parallel and waits for them to exit.
func (h *Host) Stop() {
	if h.cancel != nil {
		h.cancel()
	}
	h.wg.Wait()
}

func (h *Host) get(name string) (*supervised, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	s, ok := h.providers[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownProvider, name)
	}
	return s, nil
}

// Provider returns the running provider and its capabilities. It fails with
// an error wrapping sdk.ErrUnavailable while the plugin is not running.
func (h *Host) Provider(name string) (sdk.Provider, sdk.Capabilities, error) {
	s, err := h.get(name)
	if err != nil {
		return nil, sdk.Capabilities{}, err
	}
	return s.current()
}

// Send passes a batch to the named provider and returns its answers, one
// per message in the messages' order, in the host's words (the plugin
// protocol's are translated in convert.go). An error wrapping
// ErrUnavailable means the plugin was not running or died during the call:
// the messages were possibly not sent and must be tried again.
func (h *Host) Send(ctx context.Context, name string, msgs []message.Outgoing) ([]message.SendResult, error) {
	p, _, err := h.Provider(name)
	if err != nil {
		return nil, err
	}
	batch, out := sendBuffers(len(msgs))
	for i, m := range msgs {
		batch[i] = Outgoing(m)
	}
	res, err := p.Send(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("provider %s: send: %w", name, err)
	}
	if err := checkResults(batch, res); err != nil {
		return nil, fmt.Errorf("provider %s broke the one-result-per-message rule: %w", name, err)
	}
	h.noteAccountError(name, res)
	for i, r := range res {
		out[i] = Result(r)
	}
	return out, nil
}

// errBrokenResults marks a Send whose results cannot be matched to its
// messages.
var errBrokenResults = fmt.Errorf("%w (%w: its results cannot be matched to the messages, and the provider may have taken some of them)",
	sdk.ErrUnavailable, sdk.ErrOutcomeUnknown)

// checkResults holds a plugin to the Send contract: one result per message,
// in the messages' order, each naming its message or none. This is the one
// place the host checks it; its callers match results to messages by
// position. A batch that breaks it is treated like a call the plugin died
// in: none of its results is trusted, and the provider may have taken some
// of the messages.
func checkResults(msgs []sdk.Message, res []sdk.SendResult) error {
	if len(res) != len(msgs) {
		return fmt.Errorf("it returned %d results for %d messages: %w", len(res), len(msgs), errBrokenResults)
	}
	for i, r := range res {
		if r.MessageID != "" && r.MessageID != msgs[i].ID {
			return fmt.Errorf("it answered for message %s in place of %s: %w", r.MessageID, msgs[i].ID, errBrokenResults)
		}
	}
	return nil
}

// noteAccountError reports the provider unhealthy when the upstream refused
// its account (sdk.AccountError), so messages skip it instead of each
// failing over from it in turn. The mark lasts one HealthInterval: a
// provider's own health check may not notice a bad key, and the first send
// after it passes finds out whether an operator fixed the account.
func (h *Host) noteAccountError(name string, res []sdk.SendResult) {
	for _, r := range res {
		if r.Outcome != sdk.OutcomeAccountError {
			continue
		}
		s, err := h.get(name)
		if err != nil {
			return
		}
		s.mu.Lock()
		fresh := !time.Now().Before(s.accountUntil)
		s.accountErr, s.accountUntil = r.Reason, time.Now().Add(h.opts.HealthInterval)
		s.mu.Unlock()
		if fresh {
			s.log.Warn("the upstream refused the provider's account; messages skip the provider for a health interval",
				"reason", r.Reason, "code", r.Code, "interval", h.opts.HealthInterval)
		}
		return
	}
}

// Statuses reports every provider's state, sorted by name.
func (h *Host) Statuses() []ProviderStatus {
	h.mu.RLock()
	out := make([]ProviderStatus, 0, len(h.providers))
	for _, s := range h.providers {
		out = append(out, s.status())
	}
	h.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Status reports one provider's state.
func (h *Host) Status(name string) (ProviderStatus, bool) {
	s, err := h.get(name)
	if err != nil {
		return ProviderStatus{}, false
	}
	return s.status(), true
}

// Names returns the configured provider names, sorted.
func (h *Host) Names() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.providers))
	for n := range h.providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s Spec) pluginName() string {
	switch {
	case s.InProcess != nil:
		return s.InProcess.Info().Name
	case s.Path != "":
		return s.Path
	}
	return string(s.Kind)
}

// supervised is one provider and the plugin process currently serving it.
type supervised struct {
	host *Host
	spec Spec
	log  hclog.Logger

	mu       sync.Mutex
	prov     sdk.Provider
	caps     sdk.Capabilities
	pid      int
	state    State
	restarts int
	lastErr  string
	health   sdk.Health
	// accountErr is the reason of the last sdk.AccountError result; the
	// provider counts as unhealthy until accountUntil.
	accountErr   string
	accountUntil time.Time
	// balance survives restarts: the account's credit did not change
	// because the plugin process did.
	balance   *provider.Balance
	balanceAt time.Time
	// networks and devices are refreshed with every health check.
	networks sdk.Networks
	devices  []provider.Device
}

func (s *supervised) current() (sdk.Provider, sdk.Capabilities, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.prov == nil {
		return nil, sdk.Capabilities{}, fmt.Errorf("provider %s is %s: %w", s.spec.Name, s.state, sdk.ErrUnavailable)
	}
	return s.prov, s.caps, nil
}

func (s *supervised) status() ProviderStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ProviderStatus{Name: s.spec.Name, Plugin: s.spec.pluginName(), State: s.state, PID: s.pid, Restarts: s.restarts,
		LastError: s.lastErr, Healthy: s.state == StateRunning && s.health.OK, HealthDetail: s.health.Detail, Capabilities: Features(s.caps)}
	if st.Healthy && time.Now().Before(s.accountUntil) {
		st.Healthy, st.HealthDetail = false, "account refused by the upstream: "+s.accountErr
	}
	if s.balance != nil {
		b, at := *s.balance, s.balanceAt
		st.Balance, st.BalanceAt = &b, &at
	}
	st.RefuseWhileDown = s.health.RefuseWhileDown
	st.Operators, st.Countries, st.Devices = s.networks.Operators, s.networks.Countries, s.devices
	return st
}

func (s *supervised) set(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

// instance is one running incarnation of a provider.
type instance struct {
	prov sdk.Provider
	caps sdk.Capabilities
	pid  int
	done <-chan struct{}
	kill func()
}

func (s *supervised) run(ctx context.Context, first chan<- error) {
	// The parent-death signal fires when the thread that started the child
	// exits, not the process. Pinning this goroutine to its thread for the
	// provider's whole life keeps the runtime from retiring that thread while
	// the plugin runs; the thread ends with the goroutine, after the plugin.
	runtime.LockOSThread()
	o := s.host.opts
	backoff := o.MinBackoff
	failures := 0
	for {
		started := time.Now()
		inst, err := s.launch(ctx)
		if err == nil {
			s.log.Info("plugin running", "pid", inst.pid)
			// A provider that was crash-looping stays marked so (and counts
			// as unhealthy for routing) until it has run StableAfter.
			state := StateRunning
			if failures >= o.CrashLoopAfter {
				state = StateCrashLoop
			}
			s.set(func() {
				s.prov, s.caps, s.pid, s.state = inst.prov, inst.caps, inst.pid, state
				s.health = sdk.Health{OK: true, Detail: "started"}
			})
		}
		if first != nil {
			// The state is set before Start hears of the launch, so a caller
			// may Send the moment Start returns.
			if err != nil {
				s.set(func() { s.state, s.lastErr = StateStopped, err.Error() })
			}
			first <- err
			first = nil
			if err != nil {
				return
			}
		}
		if err == nil {
			crashed := s.watch(ctx, inst, o.StableAfter)
			s.set(func() { s.prov, s.pid = nil, 0 })
			if !crashed {
				s.set(func() { s.state = StateStopped })
				return
			}
			err = errors.New("plugin process exited")
			if time.Since(started) >= o.StableAfter {
				failures, backoff = 0, o.MinBackoff
			}
		}
		failures++
		state := StateRestarting
		if failures >= o.CrashLoopAfter {
			state = StateCrashLoop
		}
		s.set(func() { s.state, s.lastErr = state, err.Error(); s.restarts++ })
		s.log.Error("plugin not running, relaunching", "error", err, "in", backoff, "state", state, "failures", failures)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			s.set(func() { s.state = StateStopped })
			return
		case <-t.C:
		}
		backoff = min(backoff*2, o.MaxBackoff)
	}
}

// watch keeps the instance's event stream and health checks going until the
// plugin exits (true) or the host stops (false, after stopping the plugin).
func (s *supervised) watch(ctx context.Context, inst *instance, stableAfter time.Duration) (crashed bool) {
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		stable := time.NewTimer(stableAfter)
		defer stable.Stop()
		select {
		case <-runCtx.Done():
		case <-stable.C:
			s.set(func() {
				if s.state == StateCrashLoop {
					s.state = StateRunning
				}
			})
		}
	})
	if es, ok := inst.prov.(sdk.EventSource); ok && inst.caps.Events {
		wg.Go(func() { s.pumpEvents(runCtx, es) })
	}
	s.refreshFacts(runCtx, inst.prov, inst.caps)
	if hc, ok := inst.prov.(sdk.HealthChecker); ok && inst.caps.Health {
		wg.Go(func() { s.checkHealth(runCtx, hc, inst) })
	}
	if br, ok := inst.prov.(sdk.BalanceReporter); ok && inst.caps.Balance {
		wg.Go(func() { s.refreshBalance(runCtx, br) })
	}
	select {
	case <-inst.done:
		cancel()
		wg.Wait()
		// The process is gone, but what Launch set up for it (the gRPC
		// connection and its goroutines) is released only by Kill.
		inst.kill()
		return true
	case <-ctx.Done():
		cancel()
		wg.Wait()
		closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := inst.prov.Close(closeCtx); err != nil && !errors.Is(err, sdk.ErrUnavailable) {
			s.log.Warn("provider close", "error", err)
		}
		closeCancel()
		inst.kill()
		return false
	}
}

func (s *supervised) pumpEvents(ctx context.Context, es sdk.EventSource) {
	store := s.host.opts.Events
	emit := func(ctx context.Context, ev sdk.Event) error {
		if store == nil {
			return errors.New("host has no event store")
		}
		return store.StoreEvents(ctx, s.spec.Name, event(ev))
	}
	for {
		err := es.Events(ctx, emit)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("event stream ended, reopening", "error", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// firstRecheck is how soon a provider found down is asked again; the wait
// doubles up to HealthInterval while it stays down.
const firstRecheck = 250 * time.Millisecond

// checkHealth asks the plugin for its health at once, then every
// HealthInterval, and sooner while it is down. The first answer comes
// right after start because a provider that refuses sends while down (a
// phone gateway with no phone) must be seen down before the first
// request, not an interval later; the quicker rechecks keep a provider
// that is still connecting at start (an SMPP bind) from counting as down
// for a whole interval.
func (s *supervised) checkHealth(ctx context.Context, hc sdk.HealthChecker, inst *instance) {
	t := time.NewTimer(0)
	defer t.Stop()
	unavailable := 0
	recheck := firstRecheck
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h, err := hc.Health(hctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		next := s.host.opts.HealthInterval
		switch {
		case err == nil:
			unavailable = 0
			s.setHealth(h)
			s.refreshFacts(ctx, inst.prov, inst.caps)
			if !h.OK {
				next, recheck = min(recheck, next), min(2*recheck, next)
			} else {
				recheck = firstRecheck
			}
		case errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded):
			unavailable++
			s.set(func() { s.health = sdk.Health{OK: false, Detail: "health check: " + err.Error()} })
			if unavailable >= 2 {
				// A plugin that stopped answering but did not exit is hung:
				// killing it lets the supervisor relaunch it.
				s.log.Error("plugin not answering health checks, killing it", "error", err)
				inst.kill()
				return
			}
		default:
			s.set(func() { s.health = sdk.Health{OK: false, Detail: "health check: " + err.Error()} })
		}
		t.Reset(next)
	}
}

// refreshBalance asks the plugin for its account's credit at start and then
// every BalanceInterval.
func (s *supervised) refreshBalance(ctx context.Context, br sdk.BalanceReporter) {
	t := time.NewTicker(s.host.opts.BalanceInterval)
	defer t.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		b, err := br.Balance(bctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("balance refresh failed; keeping the last known balance", "error", err)
		default:
			hb := Balance(b)
			s.set(func() { s.balance, s.balanceAt = &hb, time.Now().UTC() })
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *supervised) launch(ctx context.Context) (*instance, error) {
	o := s.host.opts
	cfg := sdk.Config{Name: s.spec.Name, Settings: s.spec.Settings, HookURL: s.spec.HookURL, Logger: s.log}
	if len(cfg.Settings) == 0 {
		cfg.Settings = json.RawMessage("{}")
	}
	cctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	if p := s.spec.InProcess; p != nil {
		if err := p.Configure(cctx, cfg); err != nil {
			return nil, fmt.Errorf("configure: %w", err)
		}
		return &instance{prov: p, caps: sdk.CapabilitiesOf(p), done: make(chan struct{}), kill: func() {}}, nil
	}
	cmd, err := s.command()
	if err != nil {
		return nil, err
	}
	setParentDeathSignal(cmd)
	pl, err := sdk.Launch(cmd, sdk.LaunchOptions{Logger: s.log, StartTimeout: o.StartTimeout})
	if err != nil {
		return nil, err // names the command and quotes its stderr
	}
	prov := pl.Provider()
	if err := prov.Configure(cctx, cfg); err != nil {
		pl.Kill()
		return nil, fmt.Errorf("configure: %w", err)
	}
	return &instance{prov: prov, caps: sdk.CapabilitiesOf(prov), pid: pl.PID(), done: pl.Done(), kill: pl.Kill}, nil
}

func (s *supervised) command() (*exec.Cmd, error) {
	if s.spec.Path != "" {
		if s.spec.SHA256 != "" {
			sum, err := fileSHA256(s.spec.Path)
			if err != nil {
				return nil, fmt.Errorf("plugin binary: %w", err)
			}
			if !strings.EqualFold(sum, s.spec.SHA256) {
				return nil, fmt.Errorf("plugin binary %s has SHA-256 %s but the config pins %s; rebuild or update the pin", s.spec.Path, sum, s.spec.SHA256)
			}
		}
		return exec.Command(s.spec.Path), nil
	}
	exe := s.host.opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find own executable for built-in plugin %q: %w", s.spec.Kind, err)
		}
	}
	return exec.Command(exe, "plugin", "serve", string(s.spec.Kind)), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
