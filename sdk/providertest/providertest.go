package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/sdk"
)

const (
	// maxCheckedBatch caps the batch the kit sends, whatever MaxBatchSize says.
	maxCheckedBatch = 50
	// defaultReportTimeout is how long accepted messages may take to get
	// delivery reports when Target.ReportTimeout is zero.
	defaultReportTimeout = 10 * time.Second
	// callTimeout bounds every other call so a hanging provider fails the
	// test instead of hanging it.
	callTimeout = 30 * time.Second
	// startTimeout bounds the launch of a plugin binary.
	startTimeout = 30 * time.Second
)

// promptTimeout is how long a call that must return promptly (a cancelled
// Send, Events after its context ends) may take. The self-check shortens it.
var promptTimeout = 5 * time.Second

// Target describes the provider under test. Set exactly one of New and Command.
type Target struct {
	// Name labels log output; usually the plugin kind.
	Name string
	// New returns a fresh, unconfigured in-process provider. The kit calls it
	// once per check.
	New func() sdk.Provider
	// Command returns a fresh command that starts the plugin binary. The kit
	// launches one process per check through sdk.Launch.
	Command func() *exec.Cmd

	// Settings is a configuration Configure must accept and under which valid
	// messages are (at least partly) accepted. Upstream.Settings replaces it
	// when set.
	Settings json.RawMessage
	// BadSettings are configurations Configure must reject.
	BadSettings []json.RawMessage
	// Messages returns n valid messages with ids never returned before
	// (as the host's are), so an upstream that refuses a repeated id does
	// not refuse the next check's messages. Nil means messages to
	// +14155550100, +14155550101, ... with ids msg_providertest_000001, ...,
	// valid for an hour.
	Messages func(n int) []sdk.Message

	// Upstream, for a provider that calls an HTTP API, lets the kit play
	// that API: it then checks how each kind of answer (accepted, refused,
	// throttled with Retry-After, unavailable, too slow) becomes a result.
	Upstream *Upstream

	// HookURL is the public URL the provider is told its hooks are under
	// (sdk.Config.HookURL), as a host behind a proxy would tell it. The kit
	// serves hooks itself on a loopback address and hands HandleHook each
	// request with its URL rewritten under HookURL, as the host does.
	// Empty means the kit's own address.
	HookURL string
	// Hooks are requests the provider's upstream sends to its hooks, with
	// what the provider must answer. A provider that implements
	// sdk.HookHandler needs at least one.
	Hooks []HookCase
	// Forge, if set, changes a copy of a signed hook request the way a
	// caller without the secret could (a wrong signature). Nil: the kit
	// forges requests itself by dropping, then by altering, every header
	// other than the standard ones and every query parameter. Set it when
	// the signature travels in the body.
	Forge func(req *sdk.HookRequest)

	// ExpectReports says accepted messages get delivery reports within
	// ReportTimeout: status events emitted through sdk.EventSource or
	// through hooks (the upstream calling HookURL), or answers to
	// sdk.StatusQuerier.QueryStatus.
	ExpectReports bool
	// ReportTimeout is how long to wait for delivery reports; zero means 10s.
	ReportTimeout time.Duration
}

// Run runs the conformance checks against target, each as a subtest with a
// provider of its own.
func Run(t *testing.T, target Target) {
	t.Helper()
	run(testingT{t}, target)
}

func run(t tb, target Target) {
	t.Helper()
	k, err := newKit(target)
	if err != nil {
		t.Fatalf("providertest: %v", err)
	}
	t.Run("Info", k.testInfo)
	t.Run("BadSettings", k.testBadSettings)
	t.Run("SendBeforeConfigure", k.testSendBeforeConfigure)
	t.Run("Configure", k.testConfigure)
	t.Run("SendBatch", k.testSendBatch)
	t.Run("Resend", k.testResend)
	t.Run("SendCancelled", k.testSendCancelled)
	if target.Upstream != nil {
		t.Run("Upstream", k.testUpstream)
	}
	t.Run("Hooks", k.testHooks)
	if target.ExpectReports {
		t.Run("Reports", k.testReports)
	}
}

type kit struct {
	Target
}

func newKit(target Target) (*kit, error) {
	switch {
	case target.Name == "":
		return nil, errors.New("Target.Name is empty")
	case target.New == nil && target.Command == nil:
		return nil, errors.New("set one of Target.New (in process) and Target.Command (plugin binary)")
	case target.New != nil && target.Command != nil:
		return nil, errors.New("Target.New and Target.Command are both set; set exactly one (for the binary, set New to nil after copying a target that has it)")
	case target.Upstream != nil && (target.Upstream.Settings == nil || target.Upstream.Answer == nil):
		return nil, errors.New("Target.Upstream needs Settings and Answer")
	}
	if target.ReportTimeout <= 0 {
		target.ReportTimeout = defaultReportTimeout
	}
	if target.Messages == nil {
		target.Messages = defaultMessages
	}
	return &kit{Target: target}, nil
}

// messageSeq numbers the default messages across checks.
var messageSeq atomic.Int64

func defaultMessages(n int) []sdk.Message {
	msgs := make([]sdk.Message, n)
	for i := range msgs {
		seq := messageSeq.Add(1)
		msgs[i] = sdk.Message{
			ID:       fmt.Sprintf("msg_providertest_%06d", seq),
			To:       fmt.Sprintf("+1415555%04d", 100+i),
			Text:     fmt.Sprintf("providertest message %d", seq),
			Encoding: sdk.EncodingGSM7,
			Segments: 1,
			Kind:     "sms",
			// Real messages carry a validity; a provider must take it.
			ValidUntil: time.Now().Add(time.Hour).UTC(),
		}
	}
	return msgs
}

// instance is one provider under test, the fakes around it, and how to tear
// them down.
type instance struct {
	p        sdk.Provider
	caps     sdk.Capabilities
	logger   hclog.Logger
	proc     pluginProcess // nil in process
	leaks    []goleak.Option
	upstream *fakeUpstream // nil without Target.Upstream
	hooks    *hookServer
	reports  *collector // status events stored through hooks and Events
}

// start creates a provider (and its process, for binaries) with its fake
// upstream and hook server, and registers a cleanup that closes them all
// and checks nothing outlives them.
func (k *kit) start(t tb) *instance {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   k.Name,
		Level:  hclog.Debug,
		Output: newTestLogWriter(t),
	})
	in := &instance{logger: logger, reports: newCollector(t)}
	if k.New != nil {
		// Captured before the provider and the fakes exist: anything still
		// running after Close beyond these is the provider's.
		in.leaks = []goleak.Option{goleak.IgnoreCurrent()}
	}
	if k.Upstream != nil {
		in.upstream = newFakeUpstream(k.Upstream.Answer)
	}
	in.hooks = newHookServer(t, k.HookURL, in.reports.store)
	if k.New != nil {
		in.p = k.New()
		if in.p == nil {
			in.closeFakes()
			t.Fatalf("Target.New returned nil")
		}
	} else {
		in.p = k.launch(t, in)
	}
	in.hooks.setProvider(in.p)
	in.caps = sdk.CapabilitiesOf(in.p)
	t.Cleanup(func() { in.stop(t) })
	return in
}

func (k *kit) launch(t tb, in *instance) sdk.Provider {
	t.Helper()
	cmd := k.Command()
	if cmd == nil {
		in.closeFakes()
		t.Fatalf("Target.Command returned nil")
	}
	proc, err := launch(cmd, in.logger, startTimeout)
	if err != nil {
		in.closeFakes()
		t.Fatalf("launch plugin %s: %v", cmd.Path, err)
	}
	in.proc = proc
	if proc.Provider() == nil {
		proc.Kill()
		in.closeFakes()
		t.Fatalf("launched plugin has no provider")
	}
	return proc.Provider()
}

// settings is the good configuration for this instance.
func (k *kit) settings(in *instance) json.RawMessage {
	if in.upstream != nil {
		return k.Upstream.Settings(in.upstream.URL())
	}
	return k.Settings
}

// config is what the host would pass to Configure.
func (k *kit) config(in *instance, settings json.RawMessage) sdk.Config {
	return sdk.Config{Name: k.Name + "-providertest", Settings: settings, HookURL: in.hooks.publicURL, Logger: in.logger}
}

// configure applies the target's good settings.
func (k *kit) configure(t tb, in *instance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	settings := k.settings(in)
	if err := in.p.Configure(ctx, k.config(in, settings)); err != nil {
		t.Fatalf("Configure rejected the target's settings %s: %v", settings, err)
	}
	// Settings may change what Info reports (a configured batch size), so
	// ask again after Configure, as the host must.
	in.caps = sdk.CapabilitiesOf(in.p)
	if in.caps.MaxBatchSize < 1 {
		t.Errorf("after Configure, capabilities report MaxBatchSize %d; want at least 1", in.caps.MaxBatchSize)
	}
}

// closeFakes stops the hook server and the fake upstream.
func (in *instance) closeFakes() {
	in.hooks.close()
	if in.upstream != nil {
		in.upstream.close()
	}
}

// stop closes the provider and checks that it leaves nothing behind: no
// goroutines in process, no process for a binary.
func (in *instance) stop(t tb) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := in.p.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	in.closeFakes()
	if in.proc == nil {
		if err := goleak.Find(in.leaks...); err != nil {
			t.Errorf("goroutines still running after Close: %v", err)
		}
		return
	}
	in.proc.Kill()
	select {
	case <-in.proc.Done():
	case <-time.After(promptTimeout):
		t.Errorf("plugin process %d still running %s after Kill", in.proc.PID(), promptTimeout)
		return
	}
	if !in.proc.Exited() {
		t.Errorf("plugin process %d: Done closed but Exited reports false", in.proc.PID())
	}
}

// guard runs call, turning a panic of an in-process provider into a
// failure that names what was called instead of a crashed test binary.
func guard(t tb, what string, call func()) (panicked bool) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			t.Errorf("%s panicked: %v; in a plugin process this kills the process and every call in flight", what, v)
		}
	}()
	call()
	return false
}

// testLogWriter sends provider logs to the test log, and drops them once the
// test is over (a plugin process may still write while it exits).
type testLogWriter struct {
	mu   sync.Mutex
	t    tb
	done bool
}

func newTestLogWriter(t tb) *testLogWriter {
	w := &testLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return w
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
