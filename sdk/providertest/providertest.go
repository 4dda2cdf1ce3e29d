package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/sdk"
)

const (
	// maxCheckedBatch caps the batch the kit sends, whatever MaxBatchSize says.
	maxCheckedBatch = 50
	// defaultEventTimeout is how long accepted messages may take to produce
	// status events when Target.EventTimeout is zero.
	defaultEventTimeout = 10 * time.Second
	// promptTimeout is how long a call that must return promptly (a cancelled
	// Send, Events after its context ends) may take.
	promptTimeout = 5 * time.Second
	// callTimeout bounds every other call so a hanging provider fails the
	// test instead of hanging it.
	callTimeout = 30 * time.Second
	// startTimeout bounds the launch of a plugin binary.
	startTimeout = 30 * time.Second
)

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
	// messages are (at least partly) accepted.
	Settings json.RawMessage
	// BadSettings are configurations Configure must reject.
	BadSettings []json.RawMessage
	// Messages returns n valid messages. Nil means messages to +14155550100,
	// +14155550101, ... with ids msg_providertest_0000, ..., valid for an
	// hour.
	Messages func(n int) []sdk.Message
	// ExpectEvents says accepted messages produce status events through
	// sdk.EventSource within EventTimeout.
	ExpectEvents bool
	// EventTimeout is how long to wait for status events; zero means 10s.
	EventTimeout time.Duration
}

// Run runs the conformance checks against target, each as a subtest with a
// provider of its own.
func Run(t *testing.T, target Target) {
	t.Helper()
	k, err := newKit(target)
	if err != nil {
		t.Fatalf("providertest: %v", err)
	}
	t.Run("Info", k.testInfo)
	t.Run("BadSettings", k.testBadSettings)
	t.Run("Configure", k.testConfigure)
	t.Run("SendBatch", k.testSendBatch)
	t.Run("SendCancelled", k.testSendCancelled)
	if target.ExpectEvents {
		t.Run("Events", k.testEvents)
	}
}

type kit struct {
	Target
}

func newKit(target Target) (*kit, error) {
	switch {
	case target.Name == "":
		return nil, errors.New("Target.Name is empty")
	case (target.New == nil) == (target.Command == nil):
		return nil, errors.New("set exactly one of Target.New (in process) and Target.Command (plugin binary)")
	}
	if target.EventTimeout <= 0 {
		target.EventTimeout = defaultEventTimeout
	}
	if target.Messages == nil {
		target.Messages = defaultMessages
	}
	return &kit{Target: target}, nil
}

func defaultMessages(n int) []sdk.Message {
	msgs := make([]sdk.Message, n)
	for i := range msgs {
		msgs[i] = sdk.Message{
			ID:       fmt.Sprintf("msg_providertest_%04d", i),
			To:       fmt.Sprintf("+1415555%04d", 100+i),
			Text:     fmt.Sprintf("providertest message %d", i),
			Encoding: sdk.EncodingGSM7,
			Segments: 1,
			Kind:     "sms",
			// Real messages carry a validity; a provider must take it.
			ValidUntil: time.Now().Add(time.Hour).UTC(),
		}
	}
	return msgs
}

// instance is one provider under test and how to tear it down.
type instance struct {
	p      sdk.Provider
	caps   sdk.Capabilities
	logger hclog.Logger
	proc   pluginProcess // nil in process
	leaks  []goleak.Option
}

// start creates a provider (and its process, for binaries) and registers a
// cleanup that closes it and checks nothing outlives it.
func (k *kit) start(t *testing.T) *instance {
	t.Helper()
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   k.Name,
		Level:  hclog.Debug,
		Output: newTestLogWriter(t),
	})
	in := &instance{logger: logger}
	if k.New != nil {
		// Captured before the provider exists: anything still running after
		// Close beyond these is the provider's.
		in.leaks = []goleak.Option{goleak.IgnoreCurrent()}
		in.p = k.New()
		if in.p == nil {
			t.Fatal("Target.New returned nil")
		}
	} else {
		cmd := k.Command()
		if cmd == nil {
			t.Fatal("Target.Command returned nil")
		}
		proc, err := launch(cmd, logger, startTimeout)
		if err != nil {
			t.Fatalf("launch plugin %s: %v", cmd.Path, err)
		}
		in.proc = proc
		in.p = proc.Provider()
		if in.p == nil {
			proc.Kill()
			t.Fatal("launched plugin has no provider")
		}
	}
	in.caps = sdk.CapabilitiesOf(in.p)
	t.Cleanup(func() { in.stop(t) })
	return in
}

// configure applies the target's good settings.
func (k *kit) configure(t *testing.T, in *instance) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	err := in.p.Configure(ctx, sdk.Config{Name: k.Name + "-providertest", Settings: k.Settings, Logger: in.logger})
	if err != nil {
		t.Fatalf("Configure rejected Target.Settings %s: %v", k.Settings, err)
	}
	// Settings may change what Info reports (a configured batch size), so
	// ask again after Configure, as the host must.
	in.caps = sdk.CapabilitiesOf(in.p)
	if in.caps.MaxBatchSize < 1 {
		t.Errorf("after Configure, capabilities report MaxBatchSize %d; want at least 1", in.caps.MaxBatchSize)
	}
}

// stop closes the provider and checks that it leaves nothing behind: no
// goroutines in process, no process for a binary.
func (in *instance) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := in.p.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
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

func (k *kit) testInfo(t *testing.T) {
	in := k.start(t)
	info := in.p.Info()
	if info.Name == "" {
		t.Error("Info().Name is empty; it should be the plugin kind, e.g. \"smpp\"")
	}
	if info.Version == "" {
		t.Error("Info().Version is empty")
	}
	if info.MaxBatchSize < 0 {
		t.Errorf("Info().MaxBatchSize is %d; want 0 (meaning 1) or more", info.MaxBatchSize)
	}
	if in.caps.MaxBatchSize < 1 {
		t.Errorf("capabilities report MaxBatchSize %d; want at least 1", in.caps.MaxBatchSize)
	}
	if in.caps.Name != info.Name {
		t.Errorf("capabilities name %q differs from Info().Name %q", in.caps.Name, info.Name)
	}
	if k.ExpectEvents && !in.caps.Events {
		t.Error("Target.ExpectEvents is set but the provider does not implement sdk.EventSource")
	}
	if in.proc != nil {
		if pid := in.proc.PID(); pid <= 0 || pid == os.Getpid() {
			t.Errorf("plugin PID is %d, want a process other than the host's (%d)", pid, os.Getpid())
		}
	}
}

func (k *kit) testBadSettings(t *testing.T) {
	if len(k.BadSettings) == 0 {
		t.Skip("Target.BadSettings is empty")
	}
	for i, bad := range k.BadSettings {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in := k.start(t)
			ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
			defer cancel()
			err := in.p.Configure(ctx, sdk.Config{Name: k.Name + "-providertest", Settings: bad, Logger: in.logger})
			switch {
			case err == nil:
				t.Errorf("Configure accepted bad settings %s", bad)
			case strings.TrimSpace(err.Error()) == "":
				t.Errorf("Configure rejected bad settings %s with an empty message; operators need to know what is wrong", bad)
			default:
				t.Logf("settings %s rejected: %v", bad, err)
			}
		})
	}
}

// testConfigure checks the good settings and the optional capabilities that
// need no traffic.
func (k *kit) testConfigure(t *testing.T) {
	in := k.start(t)
	k.configure(t, in)
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	caps := in.caps

	if caps.Health {
		if _, err := in.p.(sdk.HealthChecker).Health(ctx); err != nil {
			t.Errorf("Health: %v", err)
		}
	}
	if caps.Balance {
		b, err := in.p.(sdk.BalanceReporter).Balance(ctx)
		if err != nil {
			t.Errorf("Balance: %v", err)
		} else if b.Currency == "" {
			t.Errorf("Balance %v has no currency", b)
		}
	}
	if caps.SenderIDs {
		ids, err := in.p.(sdk.SenderIDLister).SenderIDs(ctx)
		if err != nil {
			t.Errorf("SenderIDs: %v", err)
		}
		for _, id := range ids {
			if id.Value == "" {
				t.Errorf("SenderIDs returned an empty sender: %+v", id)
			}
			switch id.Kind {
			case "alphanumeric", "shortcode", "number":
			default:
				t.Errorf("sender %q has kind %q; want alphanumeric, shortcode or number", id.Value, id.Kind)
			}
		}
	}
	if caps.StatusQuery {
		evs, err := in.p.(sdk.StatusQuerier).QueryStatus(ctx, []string{"providertest-unknown-id"})
		if err != nil {
			t.Errorf("QueryStatus of an unknown id: %v; unknown ids should be left out", err)
		} else if len(evs) != 0 {
			t.Errorf("QueryStatus of an unknown id returned %+v; unknown ids should be left out", evs)
		}
	}
	if in.proc != nil {
		k.checkUnsupported(t, in)
	}
}

// checkUnsupported checks that the host's view of a plugin process answers
// ErrUnsupported for capabilities the plugin does not have.
func (k *kit) checkUnsupported(t *testing.T, in *instance) {
	ctx, cancel := context.WithTimeout(t.Context(), promptTimeout)
	defer cancel()
	check := func(name string, has bool, call func() error) {
		if has {
			return
		}
		if err := call(); !errors.Is(err, sdk.ErrUnsupported) {
			t.Errorf("%s on a plugin without that capability returned %v; want an error wrapping sdk.ErrUnsupported", name, err)
		}
	}
	if h, ok := in.p.(sdk.HealthChecker); ok {
		check("Health", in.caps.Health, func() error { _, err := h.Health(ctx); return err })
	}
	if b, ok := in.p.(sdk.BalanceReporter); ok {
		check("Balance", in.caps.Balance, func() error { _, err := b.Balance(ctx); return err })
	}
	if s, ok := in.p.(sdk.SenderIDLister); ok {
		check("SenderIDs", in.caps.SenderIDs, func() error { _, err := s.SenderIDs(ctx); return err })
	}
	if q, ok := in.p.(sdk.StatusQuerier); ok {
		check("QueryStatus", in.caps.StatusQuery, func() error { _, err := q.QueryStatus(ctx, []string{"x"}); return err })
	}
	if e, ok := in.p.(sdk.EventSource); ok {
		check("Events", in.caps.Events, func() error {
			return e.Events(ctx, func(context.Context, sdk.Event) error { return nil })
		})
	}
}

func (k *kit) batch(t *testing.T, in *instance) []sdk.Message {
	t.Helper()
	n := min(in.caps.MaxBatchSize, maxCheckedBatch)
	msgs := k.Messages(n)
	if len(msgs) != n {
		t.Fatalf("Target.Messages(%d) returned %d messages", n, len(msgs))
	}
	return msgs
}

// sendResult is what a Send call run under a deadline produced.
type sendResult struct {
	results []sdk.SendResult
	err     error
}

// sendAsync runs Send in a goroutine; the channel yields its answer.
func sendAsync(ctx context.Context, p sdk.Provider, msgs []sdk.Message) <-chan sendResult {
	done := make(chan sendResult, 1)
	go func() {
		r, err := p.Send(ctx, msgs)
		done <- sendResult{r, err}
	}()
	return done
}

// sendWithin runs Send and waits at most limit for it; ok is false when it
// did not return in time.
func sendWithin(ctx context.Context, p sdk.Provider, msgs []sdk.Message, limit time.Duration) (sendResult, bool) {
	select {
	case r := <-sendAsync(ctx, p, msgs):
		return r, true
	case <-time.After(limit):
		return sendResult{}, false
	}
}

// sendBatch sends a valid batch and checks the results; it returns the
// provider ids of the accepted messages.
func (k *kit) sendBatch(t *testing.T, in *instance) []string {
	t.Helper()
	msgs := k.batch(t, in)
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	r, ok := sendWithin(ctx, in.p, msgs, callTimeout+promptTimeout)
	if !ok {
		t.Fatalf("Send of %d messages did not return within %s, even after its context expired", len(msgs), callTimeout+promptTimeout)
	}
	if r.err != nil {
		t.Fatalf("Send of a valid batch of %d messages failed as a whole: %v", len(msgs), r.err)
	}
	accepted := checkResults(t, msgs, r.results)
	if len(accepted) == 0 {
		t.Errorf("no message of a valid batch of %d was accepted; Target.Settings should let the provider accept valid messages", len(msgs))
	}
	return accepted
}

// checkResults checks one result per message, in order, each well formed.
func checkResults(t *testing.T, msgs []sdk.Message, results []sdk.SendResult) []string {
	t.Helper()
	if len(results) != len(msgs) {
		t.Fatalf("Send of %d messages returned %d results; want exactly one per message", len(msgs), len(results))
	}
	var accepted []string
	seen := map[string]string{}
	for i, r := range results {
		if r.MessageID != msgs[i].ID {
			t.Errorf("result %d has MessageID %q; want %q (results must be in message order)", i, r.MessageID, msgs[i].ID)
		}
		switch r.Outcome {
		case sdk.Accepted:
			if r.ProviderMessageID == "" {
				t.Errorf("result %d (%s) is Accepted without a ProviderMessageID", i, r.MessageID)
				continue
			}
			if other, dup := seen[r.ProviderMessageID]; dup {
				t.Errorf("messages %s and %s were both accepted as provider id %q; status events could not tell them apart", other, r.MessageID, r.ProviderMessageID)
				continue
			}
			seen[r.ProviderMessageID] = r.MessageID
			accepted = append(accepted, r.ProviderMessageID)
		case sdk.Temporary, sdk.Permanent:
			if strings.TrimSpace(r.Reason) == "" {
				t.Errorf("result %d (%s) is %s without a Reason", i, r.MessageID, r.Outcome)
			}
		default:
			t.Errorf("result %d (%s) has invalid Outcome %d", i, r.MessageID, int(r.Outcome))
		}
	}
	return accepted
}

func (k *kit) testSendBatch(t *testing.T) {
	in := k.start(t)
	k.configure(t, in)
	accepted := k.sendBatch(t, in)
	if !in.caps.StatusQuery || len(accepted) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	evs, err := in.p.(sdk.StatusQuerier).QueryStatus(ctx, accepted)
	if err != nil {
		t.Fatalf("QueryStatus of %d accepted messages: %v", len(accepted), err)
	}
	asked := map[string]bool{}
	for _, id := range accepted {
		asked[id] = true
	}
	for _, ev := range evs {
		if !asked[ev.ProviderMessageID] {
			t.Errorf("QueryStatus returned provider id %q, which was not asked for", ev.ProviderMessageID)
		}
		if !ev.Status.Valid() {
			t.Errorf("QueryStatus returned invalid status %q for %s", ev.Status, ev.ProviderMessageID)
		}
	}
}

func (k *kit) testSendCancelled(t *testing.T) {
	in := k.start(t)
	k.configure(t, in)
	msgs := k.batch(t, in)

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r, ok := sendWithin(ctx, in.p, msgs, promptTimeout)
		if !ok {
			t.Fatalf("Send with a cancelled context did not return within %s", promptTimeout)
		}
		if r.err != nil {
			return
		}
		if len(r.results) != len(msgs) {
			t.Fatalf("Send with a cancelled context returned %d results for %d messages and no error", len(r.results), len(msgs))
		}
		for i, res := range r.results {
			if res.Outcome != sdk.Temporary {
				t.Errorf("Send with a cancelled context answered message %d (%s) %s; want an error or Temporary results", i, res.MessageID, res.Outcome)
			}
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		answer := sendAsync(ctx, in.p, msgs)
		cancel()
		select {
		case r := <-answer:
			if r.err == nil {
				// Finished before it noticed: the results must still be sound.
				checkResults(t, msgs, r.results)
			}
		case <-time.After(promptTimeout):
			t.Fatalf("Send did not return within %s after its context was cancelled", promptTimeout)
		}
	})
}

func (k *kit) testEvents(t *testing.T) {
	in := k.start(t)
	if !in.caps.Events {
		t.Fatal("Target.ExpectEvents is set but the provider does not implement sdk.EventSource")
	}
	k.configure(t, in)
	src := in.p.(sdk.EventSource)
	accepted := k.sendBatch(t, in)
	if len(accepted) == 0 {
		t.FailNow()
	}
	want := map[string]bool{}
	for _, id := range accepted {
		want[id] = true
	}

	// The host fails to store the first event it is offered and stores the
	// rest. The refused event must be offered again: on the same stream or,
	// as here after a restart, on the next.
	c := &collector{t: t, want: want, got: map[string]bool{}, ids: map[string]bool{}, complete: make(chan struct{})}
	refused := make(chan sdk.Event, 1)
	var once sync.Once
	firstRefused := func(ctx context.Context, ev sdk.Event) error {
		refuse := false
		once.Do(func() { refuse = true })
		if !refuse {
			return c.store(ctx, ev)
		}
		checkEvent(t, ev)
		refused <- ev
		return errors.New("providertest: simulated failure to store the event")
	}
	var refusedID string
	ctx, cancel := context.WithCancel(t.Context())
	done := runEvents(ctx, src, firstRefused)
	select {
	case ev := <-refused:
		refusedID = ev.ID
	case err := <-done:
		cancel()
		t.Fatalf("Events returned before its context ended: %v", err)
	case <-time.After(k.EventTimeout):
		t.Errorf("no event within %s of accepting %d messages", k.EventTimeout, len(accepted))
	}
	cancel()
	k.awaitReturn(t, done)
	if refusedID == "" {
		t.FailNow()
	}

	// Restarted stream: every accepted message must have produced a status
	// event by the end.
	ctx, cancel = context.WithCancel(t.Context())
	done = runEvents(ctx, src, c.store)
	select {
	case <-c.complete:
	case err := <-done:
		cancel()
		t.Fatalf("Events returned before its context ended: %v", err)
	case <-time.After(k.EventTimeout):
		c.mu.Lock()
		t.Errorf("after %s, status events arrived for %d of %d accepted messages", k.EventTimeout, len(c.got), len(want))
		c.mu.Unlock()
	}
	cancel()
	k.awaitReturn(t, done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ids[refusedID] {
		t.Errorf("event %q was refused by the host but never offered again; a refused event must be emitted again", refusedID)
	}
}

// awaitReturn waits for an Events call whose context was cancelled.
func (k *kit) awaitReturn(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(promptTimeout):
		t.Fatalf("Events did not return within %s after its context was cancelled", promptTimeout)
	}
}

// collector is a host that stores every event it is offered.
type collector struct {
	t        *testing.T
	want     map[string]bool // provider ids that must get a status event
	mu       sync.Mutex
	got      map[string]bool // provider ids in want that got one
	ids      map[string]bool // every event id stored
	complete chan struct{}   // closed once got covers want
}

func (c *collector) store(_ context.Context, ev sdk.Event) error {
	checkEvent(c.t, ev)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[ev.ID] = true
	if ev.Status != nil && c.want[ev.Status.ProviderMessageID] && !c.got[ev.Status.ProviderMessageID] {
		c.got[ev.Status.ProviderMessageID] = true
		if len(c.got) == len(c.want) {
			close(c.complete)
		}
	}
	return nil
}

// runEvents runs Events in a goroutine; the channel yields its error once it
// returns.
func runEvents(ctx context.Context, src sdk.EventSource, emit sdk.EmitFunc) <-chan error {
	done := make(chan error, 1)
	go func() { done <- src.Events(ctx, emit) }()
	return done
}

// checkEvent checks the shape every event must have. It may run on the
// provider's goroutine, so it only reports with Errorf.
func checkEvent(t *testing.T, ev sdk.Event) {
	if ev.ID == "" {
		t.Errorf("event without an ID: %s", describeEvent(ev))
	}
	if (ev.Status == nil) == (ev.Inbound == nil) {
		t.Errorf("event %q must carry exactly one of Status and Inbound: %s", ev.ID, describeEvent(ev))
		return
	}
	if s := ev.Status; s != nil {
		if s.ProviderMessageID == "" {
			t.Errorf("status event %q has no ProviderMessageID", ev.ID)
		}
		if !s.Status.Valid() {
			t.Errorf("status event %q has invalid status %q", ev.ID, s.Status)
		}
	}
}

func describeEvent(ev sdk.Event) string {
	switch {
	case ev.Status != nil:
		return fmt.Sprintf("status %+v", *ev.Status)
	case ev.Inbound != nil:
		return fmt.Sprintf("inbound %+v", *ev.Inbound)
	}
	return "empty"
}

// testLogWriter sends provider logs to the test log, and drops them once the
// test is over (a plugin process may still write while it exits).
type testLogWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newTestLogWriter(t *testing.T) *testLogWriter {
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
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
