package pluginhost_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/hook"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
)

// quietEcho keeps the echo plugin's delivery reports out of the way of tests
// that are not about events.
var quietEcho = json.RawMessage(`{"delay":"1h"}`)

func TestExternalPluginsRunAsSupervisedChildProcesses(t *testing.T) {
	requireProc(t)
	echo := plugin(t, "echo")
	h := mustStart(t, pluginhost.Options{},
		pluginhost.Spec{Name: "a", Path: echo, Settings: quietEcho},
		pluginhost.Spec{Name: "b", Path: echo, Settings: quietEcho})

	if got := h.Names(); strings.Join(got, ",") != "a,b" {
		t.Errorf("Names() = %v, want [a b]", got)
	}
	statuses := h.Statuses()
	if len(statuses) != 2 {
		t.Fatalf("Statuses() has %d entries, want 2: %+v", len(statuses), statuses)
	}
	pids := map[int]string{}
	for _, s := range statuses {
		if s.State != pluginhost.StateRunning || !s.Healthy {
			t.Errorf("%s: state %s healthy %t, want running and healthy", s.Name, s.State, s.Healthy)
		}
		if s.Plugin != echo || s.Capabilities.Plugin != "echo" || !s.Capabilities.Events {
			t.Errorf("%s: plugin %q capabilities %+v, want the echo binary with events", s.Name, s.Plugin, s.Capabilities)
		}
		if s.PID == 0 || s.PID == os.Getpid() {
			t.Fatalf("%s: PID %d is not a separate process", s.Name, s.PID)
		}
		if other, dup := pids[s.PID]; dup {
			t.Errorf("%s and %s share PID %d; want one process per provider", s.Name, other, s.PID)
		}
		pids[s.PID] = s.Name
		if _, ppid, ok := procState(t, s.PID); !ok || ppid != os.Getpid() {
			t.Errorf("%s: PID %d (exists %t) has parent %d, want this test process %d", s.Name, s.PID, ok, ppid, os.Getpid())
		}
	}

	res, err := h.Send(t.Context(), "b", messages("msg_1", "msg_2"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for i, r := range res {
		if want := []string{"msg_1", "msg_2"}[i]; r.MessageID != want || r.Outcome != message.OutcomeAccepted || !strings.HasPrefix(r.ProviderMessageID, "echo-") {
			t.Errorf("result %d = %+v, want %s accepted with an echo- id", i, r, want)
		}
	}

	h.Stop()
	for pid, name := range pids {
		if state, _, ok := procState(t, pid); ok {
			t.Errorf("%s: plugin PID %d still exists after Stop (state %s)", name, pid, state)
		}
	}
	assertNoChildren(t)
	for _, s := range h.Statuses() {
		if s.State != pluginhost.StateStopped || s.PID != 0 {
			t.Errorf("%s after Stop: state %s pid %d, want stopped without pid", s.Name, s.State, s.PID)
		}
	}
	if _, err := h.Send(t.Context(), "a", messages("msg_3")); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Send after Stop: %v, want an error wrapping sdk.ErrUnavailable", err)
	}
}

func TestStartFailsWithTheReason(t *testing.T) {
	requireProc(t)
	echo := plugin(t, "echo")
	echoSum := fileSum(t, echo)
	const wrongPin = "0000000000000000000000000000000000000000000000000000000000000000"
	missing := t.TempDir() + "/no-such-plugin"
	tests := []struct {
		name string
		spec pluginhost.Spec
		want []string // substrings of the error
	}{
		{
			name: "not a plugin",
			spec: pluginhost.Spec{Name: "p", Path: notAPlugin(t, "fatal: this binary is a shell script")},
			want: []string{`provider "p"`, "fatal: this binary is a shell script"},
		},
		{
			name: "SHA-256 pin mismatch",
			spec: pluginhost.Spec{Name: "p", Path: echo, SHA256: wrongPin},
			want: []string{`provider "p"`, echoSum, wrongPin},
		},
		{
			name: "configure rejected",
			spec: pluginhost.Spec{Name: "p", Path: plugin(t, "testplugin"),
				Settings: json.RawMessage(`{"reject":"password for system_id smsr1 was refused"}`)},
			want: []string{`provider "p"`, "configure", "password for system_id smsr1 was refused"},
		},
		{
			name: "bad settings for echo",
			spec: pluginhost.Spec{Name: "p", Path: echo, Settings: json.RawMessage(`{"delay":"soon"}`)},
			want: []string{`provider "p"`, `"soon" is not a duration`},
		},
		{
			name: "missing binary",
			spec: pluginhost.Spec{Name: "p", Path: missing},
			want: []string{`provider "p"`, missing, "no such file"},
		},
		{
			name: "missing pinned binary",
			spec: pluginhost.Spec{Name: "p", Path: missing, SHA256: wrongPin},
			want: []string{`provider "p"`, missing},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := startHost(t, pluginhost.Options{StartTimeout: 20 * time.Second}, tt.spec)
			if err == nil {
				t.Fatal("Start succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start error does not contain %q:\n%v", w, err)
				}
			}
			s := statusOf(t, h, "p")
			if s.State != pluginhost.StateStopped || s.LastError == "" {
				t.Errorf("status after failed start = %+v, want stopped with the last error", s)
			}
			assertNoChildren(t)
		})
	}
}

func TestPinnedChecksumIsAccepted(t *testing.T) {
	echo := plugin(t, "echo")
	sum := fileSum(t, echo)
	for _, pin := range []string{sum, strings.ToUpper(sum)} {
		h := mustStart(t, pluginhost.Options{}, pluginhost.Spec{Name: "pinned", Path: echo, SHA256: pin, Settings: quietEcho})
		if s := statusOf(t, h, "pinned"); s.State != pluginhost.StateRunning {
			t.Errorf("pin %s: state %s, want running", pin, s.State)
		}
		h.Stop()
	}
}

// A provider that fails its first launch takes the ones that started with
// it down again: the operator fixes the config and starts over.
func TestFailedStartStopsTheProvidersThatStarted(t *testing.T) {
	requireProc(t)
	h, err := startHost(t, pluginhost.Options{},
		pluginhost.Spec{Name: "good", Path: plugin(t, "echo"), Settings: quietEcho},
		pluginhost.Spec{Name: "bad", Path: notAPlugin(t, "not today")})
	if err == nil || !strings.Contains(err.Error(), `provider "bad"`) || strings.Contains(err.Error(), `provider "good"`) {
		t.Fatalf("Start error = %v, want one naming only provider \"bad\"", err)
	}
	if s := statusOf(t, h, "good"); s.State != pluginhost.StateStopped {
		t.Errorf("good provider after failed start: %+v, want stopped", s)
	}
	assertNoChildren(t)
}

func TestKilledPluginIsRelaunched(t *testing.T) {
	requireProc(t)
	// The backoff is long enough for the test to see the outage.
	h := mustStart(t, pluginhost.Options{MinBackoff: 500 * time.Millisecond, MaxBackoff: 500 * time.Millisecond},
		pluginhost.Spec{Name: "echo", Path: plugin(t, "echo"), Settings: quietEcho})
	before := statusOf(t, h, "echo")
	if before.State != pluginhost.StateRunning || before.PID <= 0 {
		// kill(0) would hit the whole process group, go test included.
		t.Fatalf("status right after Start = %+v, want running with a PID", before)
	}
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	down := awaitStatus(t, h, "echo", "restarting", func(s pluginhost.ProviderStatus) bool {
		return s.State == pluginhost.StateRestarting
	})
	if down.PID != 0 || down.Healthy || down.LastError == "" {
		t.Errorf("status while restarting = %+v, want no PID, unhealthy, a last error", down)
	}
	if _, err := h.Send(t.Context(), "echo", messages("msg_outage")); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Send during the outage: %v, want an error wrapping sdk.ErrUnavailable", err)
	}

	after := awaitStatus(t, h, "echo", "running again", func(s pluginhost.ProviderStatus) bool {
		return s.State == pluginhost.StateRunning
	})
	if after.PID == 0 || after.PID == before.PID || after.Restarts < 1 {
		t.Errorf("status after relaunch = %+v, want a new PID (was %d) and restarts >= 1", after, before.PID)
	}
	if state, _, ok := procState(t, before.PID); ok {
		t.Errorf("killed plugin PID %d still exists (state %s); it was not reaped", before.PID, state)
	}
	res, err := h.Send(t.Context(), "echo", messages("msg_after"))
	if err != nil || len(res) != 1 || res[0].Outcome != message.OutcomeAccepted {
		t.Errorf("Send after relaunch = %+v, %v; want accepted", res, err)
	}
	h.Stop()
	assertNoChildren(t)
}

func TestPluginThatKeepsDyingIsMarkedCrashLooping(t *testing.T) {
	requireProc(t)
	const crashLoopAfter = 3
	h := mustStart(t, pluginhost.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, CrashLoopAfter: crashLoopAfter},
		pluginhost.Spec{Name: "flaky", Path: plugin(t, "testplugin"), Settings: json.RawMessage(`{"exit_after":"300ms"}`)})

	var history []pluginhost.State
	s := awaitStatus(t, h, "flaky", "crash_loop", func(s pluginhost.ProviderStatus) bool {
		if len(history) == 0 || history[len(history)-1] != s.State {
			history = append(history, s.State)
		}
		return s.State == pluginhost.StateCrashLoop
	})
	if s.Restarts < crashLoopAfter || !strings.Contains(s.LastError, "exited") || s.Healthy {
		t.Errorf("crash-looping status = %+v, want >= %d restarts, unhealthy, last error saying the plugin exited", s, crashLoopAfter)
	}
	// Before crash_loop the provider must have been plain restarting: the
	// first failures are not yet a loop.
	sawRestarting := false
	for _, st := range history {
		sawRestarting = sawRestarting || st == pluginhost.StateRestarting
	}
	if !sawRestarting {
		t.Errorf("states seen %v: want restarting before crash_loop", history)
	}
	// While it keeps dying, a relaunch that comes up does not clear the
	// crash loop: only running StableAfter does.
	var after []pluginhost.State
	awaitStatus(t, h, "flaky", "two more relaunches", func(st pluginhost.ProviderStatus) bool {
		if len(after) == 0 || after[len(after)-1] != st.State {
			after = append(after, st.State)
		}
		return st.Restarts >= s.Restarts+2
	})
	if slices.Contains(after, pluginhost.StateRunning) {
		t.Errorf("states seen after the crash loop began: %v; want no running before StableAfter", after)
	}
	h.Stop()
	if s := statusOf(t, h, "flaky"); s.State != pluginhost.StateStopped {
		t.Errorf("state after Stop = %s, want stopped", s.State)
	}
	assertNoChildren(t)
}

func TestPluginEventsReachTheStoreAndAreRedelivered(t *testing.T) {
	store := newEventStore(1)
	h := mustStart(t, pluginhost.Options{Events: store},
		pluginhost.Spec{Name: "echo", Path: plugin(t, "echo"), Settings: json.RawMessage(`{"delay":"0s"}`)})

	res, err := h.Send(t.Context(), "echo", messages("msg_1"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	wantID := res[0].ProviderMessageID + ":delivered"
	// The host waits a second before reopening a stream that failed.
	ev := store.awaitEvent(t, wantID, 20*time.Second)
	if ev.Report == nil || ev.Report.Status != message.Delivered || ev.Report.ProviderMessageID != res[0].ProviderMessageID {
		t.Errorf("stored event = %+v, want a delivered report for %s", ev, res[0].ProviderMessageID)
	}
	if refused := store.refusedIDs(); len(refused) != 1 || refused[0] != wantID {
		t.Errorf("refused events = %v, want exactly [%s] refused once and then delivered again", refused, wantID)
	}
}

func TestInProcessProvider(t *testing.T) {
	requireProc(t)
	store := newEventStore(0)
	p := newFakeProvider()
	p.health = sdk.Health{OK: false, Detail: "bind refused"}
	p.event = sdk.Event{ID: "in-1", Inbound: &sdk.InboundEvent{From: "+959123456789", To: "12345", Text: "STOP"}}
	settings := json.RawMessage(`{"k":"v"}`)
	h := mustStart(t, pluginhost.Options{Events: store, HealthInterval: 5 * time.Millisecond},
		pluginhost.Spec{Name: "mem", InProcess: p, Settings: settings, HookURL: "http://127.0.0.1:1/hooks"})

	cfg := <-p.configured
	if cfg.Name != "mem" || string(cfg.Settings) != string(settings) || cfg.HookURL != "http://127.0.0.1:1/hooks" || cfg.Logger == nil {
		t.Errorf("Configure got %+v, want the spec's name, settings, hook URL and a logger", cfg)
	}
	s := statusOf(t, h, "mem")
	if s.State != pluginhost.StateRunning || s.PID != 0 || s.Plugin != "fake" || s.Capabilities.MaxBatchSize != 5 {
		t.Errorf("status = %+v, want running, no PID, plugin fake, max batch 5", s)
	}
	assertNoChildren(t)

	res, err := h.Send(t.Context(), "mem", messages("msg_1"))
	if err != nil || len(res) != 1 || res[0].ProviderMessageID != "fake-msg_1" {
		t.Errorf("Send = %+v, %v; want one result fake-msg_1", res, err)
	}
	if ev := store.awaitEvent(t, "in-1", 10*time.Second); ev.Inbound == nil || ev.Inbound.Text != "STOP" {
		t.Errorf("stored event = %+v, want the inbound STOP", ev)
	}
	awaitStatus(t, h, "mem", "reported unhealthy", func(s pluginhost.ProviderStatus) bool {
		return !s.Healthy && strings.Contains(s.HealthDetail, "bind refused")
	})

	err = h.HandleHook(t.Context(), "mem", &hook.Request{Method: "POST", Path: "/status"}, nil)
	if !errors.Is(err, hook.ErrUnsupported) {
		t.Errorf("HandleHook on a provider without hooks: %v, want hook.ErrUnsupported", err)
	}
	if _, err := h.Send(t.Context(), "nope", messages("msg_2")); !errors.Is(err, pluginhost.ErrUnknownProvider) {
		t.Errorf("Send to an unknown provider: %v, want ErrUnknownProvider", err)
	}

	h.Stop()
	select {
	case <-p.closed:
	default:
		t.Error("Stop did not close the in-process provider")
	}
}

func TestInProcessProviderRefusingItsConfig(t *testing.T) {
	p := newFakeProvider()
	p.configureErr = errors.New(`setting "region": "mars" is not a region`)
	_, err := startHost(t, pluginhost.Options{}, pluginhost.Spec{Name: "mem", InProcess: p})
	if err == nil || !strings.Contains(err.Error(), `"mars" is not a region`) {
		t.Errorf("Start error = %v, want the provider's complaint", err)
	}
}

// A plugin that breaks the one-result-per-message rule (one result per
// message, in the messages' order) must not have any of its batch taken as
// sent: the results cannot be matched to the messages, and the provider may
// have taken some of them. The host checks the rule here, once, for every
// caller.
func TestBrokenResultListIsUnavailableWithUnknownOutcome(t *testing.T) {
	tests := []struct {
		name    string
		rewrite func([]sdk.SendResult) []sdk.SendResult
		want    string
	}{
		{"too few results", func(r []sdk.SendResult) []sdk.SendResult { return r[:1] },
			"returned 1 results for 2 messages"},
		{"no results", func([]sdk.SendResult) []sdk.SendResult { return nil },
			"returned 0 results for 2 messages"},
		{"too many results", func(r []sdk.SendResult) []sdk.SendResult { return append(r, r[0]) },
			"returned 3 results for 2 messages"},
		{"a result for another message", func(r []sdk.SendResult) []sdk.SendResult {
			r[1].MessageID = "msg_someoneelse"
			return r
		}, "answered for message msg_someoneelse in place of msg_2"},
		{"results out of order", func(r []sdk.SendResult) []sdk.SendResult {
			r[0], r[1] = r[1], r[0]
			return r
		}, "answered for message msg_2 in place of msg_1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFakeProvider()
			p.breakResults = tt.rewrite
			h := mustStart(t, pluginhost.Options{}, pluginhost.Spec{Name: "mem", InProcess: p})
			res, err := h.Send(t.Context(), "mem", messages("msg_1", "msg_2"))
			if res != nil || !errors.Is(err, sdk.ErrUnavailable) || !errors.Is(err, sdk.ErrOutcomeUnknown) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send = %v, %v; want no results and an error wrapping sdk.ErrUnavailable and sdk.ErrOutcomeUnknown saying %q", res, err, tt.want)
			}
		})
	}
	t.Run("results without the message id", func(t *testing.T) {
		p := newFakeProvider()
		p.breakResults = func(r []sdk.SendResult) []sdk.SendResult {
			for i := range r {
				r[i].MessageID = ""
			}
			return r
		}
		h := mustStart(t, pluginhost.Options{}, pluginhost.Spec{Name: "mem", InProcess: p})
		if res, err := h.Send(t.Context(), "mem", messages("msg_1", "msg_2")); err != nil || len(res) != 2 {
			t.Errorf("Send = %v, %v; want two results: an empty message id matches by position", res, err)
		}
	})
}

// An upstream that refuses the provider's account makes the provider
// unhealthy with the reason, so messages skip it until the account works.
func TestAccountErrorMakesTheProviderUnhealthy(t *testing.T) {
	p := newFakeProvider()
	p.health = sdk.Health{OK: true}
	p.result = func(m sdk.Message) sdk.SendResult { return sdk.AccountError(m.ID, "API key rejected (HTTP 401)") }
	h := mustStart(t, pluginhost.Options{HealthInterval: time.Hour}, pluginhost.Spec{Name: "mem", InProcess: p})
	if st, _ := h.Status("mem"); !st.Healthy {
		t.Fatalf("before any send: %+v, want healthy", st)
	}
	res, err := h.Send(t.Context(), "mem", messages("msg_1"))
	if err != nil || res[0].Outcome != message.OutcomeAccountError {
		t.Fatalf("Send = %+v, %v; want the account error", res, err)
	}
	st, _ := h.Status("mem")
	if st.Healthy || !strings.Contains(st.HealthDetail, "API key rejected (HTTP 401)") {
		t.Errorf("after an account error: healthy %t, detail %q; want unhealthy with the reason", st.Healthy, st.HealthDetail)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fakeProvider is an in-process provider with events and health.
type fakeProvider struct {
	health       sdk.Health
	event        sdk.Event
	configureErr error
	// breakResults, when set, rewrites the results Send returns.
	breakResults func([]sdk.SendResult) []sdk.SendResult
	result       func(sdk.Message) sdk.SendResult // nil: accept every message

	configured chan sdk.Config
	closed     chan struct{}
	closeOnce  sync.Once
}

func newFakeProvider() *fakeProvider {
	return &fakeProvider{configured: make(chan sdk.Config, 1), closed: make(chan struct{})}
}

func (p *fakeProvider) Info() sdk.Info { return sdk.Info{Name: "fake", Version: "1", MaxBatchSize: 5} }

func (p *fakeProvider) Configure(_ context.Context, cfg sdk.Config) error {
	select {
	case p.configured <- cfg:
	default:
	}
	return p.configureErr
}

func (p *fakeProvider) Send(_ context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, 0, len(msgs))
	for _, m := range msgs {
		if p.result != nil {
			out = append(out, p.result(m))
			continue
		}
		out = append(out, sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: "fake-" + m.ID})
	}
	if p.breakResults != nil {
		out = p.breakResults(out)
	}
	return out, nil
}

func (p *fakeProvider) Close(context.Context) error {
	p.closeOnce.Do(func() { close(p.closed) })
	return nil
}

func (p *fakeProvider) Health(context.Context) (sdk.Health, error) { return p.health, nil }

func (p *fakeProvider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	if p.event.ID != "" {
		if err := emit(ctx, p.event); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}

// downAtStart is a provider whose health a test changes while it runs.
type downAtStart struct {
	*fakeProvider
	health atomic.Pointer[sdk.Health]
}

func (p *downAtStart) Health(context.Context) (sdk.Health, error) { return *p.health.Load(), nil }

// A provider down when it starts is seen down at once, not a health
// interval later (a phone gateway with no phone that refuses sends must
// refuse the first request), and seen up again soon after it recovers,
// well before the next regular check.
func TestHealthCheckedAtStartAndSoonerWhileDown(t *testing.T) {
	p := &downAtStart{fakeProvider: newFakeProvider()}
	p.health.Store(&sdk.Health{OK: false, Detail: "no phone online", RefuseWhileDown: true})
	h := mustStart(t, pluginhost.Options{HealthInterval: time.Hour}, pluginhost.Spec{Name: "mem", InProcess: p})
	awaitStatus(t, h, "mem", "down from the first check", func(s pluginhost.ProviderStatus) bool {
		return !s.Healthy && strings.Contains(s.HealthDetail, "no phone online")
	})
	p.health.Store(&sdk.Health{OK: true, Detail: "1 phone online"})
	awaitStatus(t, h, "mem", "up again without waiting the hour", func(s pluginhost.ProviderStatus) bool {
		return s.Healthy && strings.Contains(s.HealthDetail, "1 phone online")
	})
}
