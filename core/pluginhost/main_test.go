package pluginhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// pluginDir holds the plugin binaries the tests build, once per run.
var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	// A Cleanup replaces goleak's own os.Exit, so it exits itself.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

var (
	buildOnce sync.Once
	buildErr  error
)

// plugin returns the path of a test plugin binary: "echo" (the example
// plugin) or "testplugin" (testdata/testplugin, which misbehaves on request).
// Both are built on first use; without the race detector, to keep it quick.
func plugin(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", pluginDir+string(filepath.Separator),
			"github.com/smsrouter/smsrouter/examples/plugins/echo",
			"github.com/smsrouter/smsrouter/core/pluginhost/testdata/testplugin")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build test plugins: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(pluginDir, name)
}

// notAPlugin writes an executable that fails the way a wrong binary does:
// a complaint on stderr and exit status 1, no handshake.
func notAPlugin(t *testing.T, complaint string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "not-a-plugin")
	script := fmt.Sprintf("#!/bin/sh\necho %q >&2\nexit 1\n", complaint)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// logBuffer collects the host's log and shows it only when a test fails;
// the host may log from its goroutines up to Stop, so it cannot log
// through t directly.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func testLogger(t *testing.T) hclog.Logger {
	t.Helper()
	buf := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("host log:\n%s", buf)
		}
	})
	return hclog.New(&hclog.LoggerOptions{Name: "test", Output: buf, Level: hclog.Debug})
}

// startHost starts a host with opts (logger filled in) and stops it when the
// test ends, also when the test already did.
func startHost(t *testing.T, opts pluginhost.Options, specs ...pluginhost.Spec) (*pluginhost.Host, error) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	h := pluginhost.New(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := h.Start(ctx, specs)
	t.Cleanup(h.Stop)
	return h, err
}

func mustStart(t *testing.T, opts pluginhost.Options, specs ...pluginhost.Spec) *pluginhost.Host {
	t.Helper()
	h, err := startHost(t, opts, specs...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return h
}

func statusOf(t *testing.T, h *pluginhost.Host, name string) pluginhost.ProviderStatus {
	t.Helper()
	for _, s := range h.Statuses() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no status for provider %q in %+v", name, h.Statuses())
	return pluginhost.ProviderStatus{}
}

// awaitStatus polls the host until the provider's status satisfies ok. The
// host offers no signal for state changes, so bounded polling it is.
func awaitStatus(t *testing.T, h *pluginhost.Host, name, what string, ok func(pluginhost.ProviderStatus) bool) pluginhost.ProviderStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		s := statusOf(t, h, name)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider %s: not %s within 30s; last status %+v", name, what, s)
		}
		<-tick.C
	}
}

// procState returns the state letter of process pid from /proc ("R", "S",
// "Z", ...) and its parent, or ok=false when no such process exists.
func procState(t *testing.T, pid int) (state string, ppid int, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if errors.Is(err, os.ErrNotExist) {
		return "", 0, false
	}
	if err != nil {
		t.Fatalf("read /proc/%d/stat: %v", pid, err)
	}
	// "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
	rest := string(b[bytes.LastIndexByte(b, ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 2 {
		t.Fatalf("unexpected /proc/%d/stat: %q", pid, b)
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("unexpected /proc/%d/stat: %q", pid, b)
	}
	return f[0], ppid, true
}

func requireProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to inspect plugin processes")
	}
}

// children lists the test process's child processes, zombies included: a
// plugin the host failed to reap counts as left behind.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procState(t, pid); ok && ppid == self {
			out = append(out, pid)
		}
	}
	return out
}

func assertNoChildren(t *testing.T) {
	t.Helper()
	if kids := children(t); len(kids) > 0 {
		desc := make([]string, len(kids))
		for i, pid := range kids {
			state, _, _ := procState(t, pid)
			cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
			desc[i] = fmt.Sprintf("pid %d state %s: %s", pid, state, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
		t.Errorf("child processes left behind:\n%s", strings.Join(desc, "\n"))
	}
}

func messages(ids ...string) []message.Outgoing {
	out := make([]message.Outgoing, len(ids))
	for i, id := range ids {
		out[i] = message.Outgoing{ID: id, To: "+959123456789", Text: "hello", Encoding: "gsm7", Segments: 1, Kind: message.KindSMS}
	}
	return out
}

// eventStore records what the host stores and can refuse the first calls,
// like a database that is briefly unavailable.
type eventStore struct {
	stored chan message.Event

	mu       sync.Mutex
	failNext int
	refused  []string // ids of events refused
}

func newEventStore(failFirst int) *eventStore {
	return &eventStore{stored: make(chan message.Event, 64), failNext: failFirst}
}

func (s *eventStore) StoreEvents(_ context.Context, provider string, events []message.Event) error {
	s.mu.Lock()
	if s.failNext > 0 {
		s.failNext--
		for _, ev := range events {
			s.refused = append(s.refused, ev.ID)
		}
		s.mu.Unlock()
		return errors.New("database is locked")
	}
	s.mu.Unlock()
	for _, ev := range events {
		select {
		case s.stored <- ev:
		default:
			return errors.New("test event store is full")
		}
	}
	return nil
}

func (s *eventStore) refusedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// awaitEvent waits for the store to receive the event with the given id.
func (s *eventStore) awaitEvent(t *testing.T, id string, timeout time.Duration) message.Event {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case ev := <-s.stored:
			if ev.ID == id {
				return ev
			}
			seen = append(seen, ev.ID)
		case <-timer.C:
			t.Fatalf("event %q not stored within %s; stored %v, refused %v", id, timeout, seen, s.refusedIDs())
		}
	}
}
