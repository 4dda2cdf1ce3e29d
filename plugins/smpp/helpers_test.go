package smpp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { plugins.Close() }))
}

// startSMSC runs a simulator for the test.
func startSMSC(t testing.TB, cfg smsctest.Config) *smsctest.Server {
	t.Helper()
	srv, err := smsctest.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// settingsFor points the plugin at srv, with overrides.
func settingsFor(srv *smsctest.Server, extra map[string]any) json.RawMessage {
	s := map[string]any{
		"host": "127.0.0.1", "port": srv.Port(), "system_id": "test", "password": "secret",
		"response_timeout": "2s", "reconnect_backoff": "10ms", "reconnect_backoff_max": "200ms",
		"queue_timeout": "10s", "resp_id_format": "hex", "receipt_id_format": "hex",
	}
	maps.Copy(s, extra)
	b, _ := json.Marshal(s)
	return b
}

func testLogger(t testing.TB) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "smpp", Level: hclog.Warn, Output: &tlog{t: t}})
}

type tlog struct{ t testing.TB }

func (w *tlog) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// newProvider configures a provider against srv and closes it at cleanup.
func newProvider(t testing.TB, srv *smsctest.Server, extra map[string]any) *smpp.Provider {
	t.Helper()
	p := smpp.New()
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := p.Configure(t.Context(), sdk.Config{Name: "smpp-test", Settings: settingsFor(srv, extra), Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// collector stores events and lets a test wait for them.
type collector struct {
	mu      sync.Mutex
	events  []sdk.Event
	changed chan struct{}
}

// collect runs p's Events until the test ends.
func collect(t testing.TB, p *smpp.Provider) *collector {
	c := &collector{changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Events(ctx, c.store)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func (c *collector) store(_ context.Context, ev sdk.Event) error {
	c.mu.Lock()
	c.events = append(c.events, ev)
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
	return nil
}

// await waits until cond holds over the events so far.
func (c *collector) await(t testing.TB, what string, timeout time.Duration, cond func([]sdk.Event) bool) []sdk.Event {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		evs := append([]sdk.Event(nil), c.events...)
		changed := c.changed
		c.mu.Unlock()
		if cond(evs) {
			return evs
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s; have %d events: %+v", timeout, what, len(evs), evs)
		}
	}
}

// statuses returns the last status per provider id.
func statuses(evs []sdk.Event) map[string]sdk.StatusEvent {
	out := map[string]sdk.StatusEvent{}
	for _, ev := range evs {
		if ev.Status != nil {
			out[ev.Status.ProviderMessageID] = *ev.Status
		}
	}
	return out
}

func messages(prefix string, n int, text string) []sdk.Message {
	msgs := make([]sdk.Message, n)
	for i := range msgs {
		msgs[i] = sdk.Message{ID: fmt.Sprintf("%s%04d", prefix, i), To: fmt.Sprintf("+1415555%04d", i), Text: fmt.Sprintf("%s %d", text, i), Encoding: sdk.EncodingGSM7, Segments: 1}
	}
	return msgs
}

func send(t testing.TB, p *smpp.Provider, msgs []sdk.Message) []sdk.SendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	res, err := p.Send(ctx, msgs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(res) != len(msgs) {
		t.Fatalf("Send returned %d results for %d messages", len(res), len(msgs))
	}
	return res
}

// plugins builds the plugin binaries the tests run, once per test run.
var plugins providertest.Builder

// pluginBinary returns the smpp plugin binary.
func pluginBinary(t *testing.T) string {
	t.Helper()
	return plugins.Build(t, "./testdata/smppplugin")
}
