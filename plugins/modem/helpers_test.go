package modem_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { plugins.Close() }))
}

// waitLimit bounds every wait of these tests.
const waitLimit = 15 * time.Second

// harness is a configured provider whose events the test reads.
type harness struct {
	p      *modem.Provider
	events chan sdk.Event
	stop   func() // ends the event stream, then closes the provider, as the host does; once
}

// fast are settings that keep tests quick: no pacing, quick polls and reopens.
func fast(ports ...any) map[string]any {
	return map[string]any{
		"ports":              ports,
		"send_interval":      "0s",
		"health_interval":    "200ms",
		"command_timeout":    "2s",
		"send_timeout":       "3s",
		"reopen_backoff":     "20ms",
		"reopen_backoff_max": "200ms",
		"reassembly_timeout": "300ms",
	}
}

// start configures a provider with settings and reads its events until the
// test ends.
func start(t *testing.T, settings map[string]any) *harness {
	t.Helper()
	return startHost(t, settings, nil)
}

// startHost is start with a host whose storing of events is store: an
// event it fails is not handed to the test (nil: every event is stored).
func startHost(t *testing.T, settings map[string]any, store func(sdk.Event) error) *harness {
	t.Helper()
	raw, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{p: modem.New(), events: make(chan sdk.Event, 1000)}
	if err := h.p.Configure(context.Background(), sdk.Config{Name: "modems", Settings: raw}); err != nil {
		t.Fatalf("configure: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.p.Events(ctx, func(_ context.Context, ev sdk.Event) error {
			if store != nil {
				if err := store(ev); err != nil {
					return err
				}
			}
			h.events <- ev
			return nil
		})
	}()
	h.stop = sync.OnceFunc(func() {
		cancel()
		<-done
		if err := h.p.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	t.Cleanup(h.stop)
	return h
}

// waitHealth waits until the provider's health satisfies ok.
func (h *harness) waitHealth(t *testing.T, what string, ok func(sdk.Health) bool) sdk.Health {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		changed := modem.Changes(h.p)
		hl, err := h.p.Health(ctx)
		if err != nil {
			t.Fatalf("health: %v", err)
		}
		if ok(hl) {
			return hl
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: health stayed %+v", what, hl)
		}
	}
}

// ready waits until n ports are ready and registered.
func (h *harness) ready(t *testing.T, n int) sdk.Health {
	t.Helper()
	return h.waitHealth(t, "ports ready", func(hl sdk.Health) bool {
		return strings.HasPrefix(hl.Detail, strconv.Itoa(n)+"/")
	})
}

// event waits for the next event.
func (h *harness) event(t *testing.T) sdk.Event {
	t.Helper()
	select {
	case ev := <-h.events:
		return ev
	case <-time.After(waitLimit):
		t.Fatal("no event")
	}
	return sdk.Event{}
}

// send sends one message and returns its result.
func (h *harness) send(t *testing.T, m sdk.Message) sdk.SendResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := h.p.Send(ctx, []sdk.Message{m})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if len(res) != 1 || res[0].MessageID != m.ID {
		t.Fatalf("results = %+v", res)
	}
	return res[0]
}

// submitted waits for the next part the simulated modem took.
func submitted(t *testing.T, m *modemtest.Modem) modemtest.Submitted {
	t.Helper()
	select {
	case s := <-m.Sent():
		return s
	case <-time.After(waitLimit):
		t.Fatalf("modem %s took nothing", m.Path())
	}
	return modemtest.Submitted{}
}
