package core_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/hook"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestServeHookAnswers pins down what the provider's caller (the upstream
// posting a delivery report) gets back in each way a hook can go, and
// which emitted events are stored: docs/plugins.md promises this to
// plugin authors. A hook nobody answered comes back as a *core.HookError
// saying why; the server's answer to it is pinned down in package server.
func TestServeHookAnswers(t *testing.T) {
	defer goleak.VerifyNone(t)
	report := sdk.Event{ID: "ev-1", Status: &sdk.StatusEvent{ProviderMessageID: "p-1", Status: sdk.StatusDelivered}}
	tests := []struct {
		name       string
		storeFails bool
		handle     func(w sdk.HookResponseWriter) error
		wantStatus int    // 0: nothing answered, a *HookError
		wantBody   string // contained in the body
		wantStored int
		wantErr    bool // ServeHook's own error, which the server logs
		// wantFailure is why nothing was answered, when wantStatus is 0.
		wantFailure core.HookFailure
		// wantFlushes is how often what was written was sent on.
		wantFlushes int
	}{
		{"events then an answer", false, func(w sdk.HookResponseWriter) error {
			w.Emit(report)
			_, err := w.Write([]byte("ok"))
			return err
		}, http.StatusOK, "ok", 1, false, 0, 0},
		{"nothing written", false, func(w sdk.HookResponseWriter) error {
			w.Emit(report)
			return nil
		}, http.StatusOK, "", 1, false, 0, 0},
		{"refused with a status", false, func(w sdk.HookResponseWriter) error {
			w.WriteHeader(http.StatusForbidden)
			return nil
		}, http.StatusForbidden, "", 0, false, 0, 0},
		{"handler error before answering", false, func(w sdk.HookResponseWriter) error {
			w.Emit(report) // dropped with the error: the caller's retry brings it again
			return errors.New("upstream sent no id")
		}, 0, "", 0, true, core.HookFailed, 0},
		{"provider unavailable", false, func(w sdk.HookResponseWriter) error {
			return fmt.Errorf("plugin gone: %w", sdk.ErrUnavailable)
		}, 0, "", 0, true, core.HookUnavailable, 0},
		{"storing fails before the answer", true, func(w sdk.HookResponseWriter) error {
			w.Emit(report)
			_, err := w.Write([]byte("ok"))
			return err // the write fails: nothing reached the caller
		}, 0, "", 0, true, core.HookUnavailable, 0},
		{"events emitted after the answer started", false, func(w sdk.HookResponseWriter) error {
			if _, err := w.Write([]byte("ok")); err != nil {
				return err
			}
			// Refused: the caller already has its 200. The plugin hears it
			// in the protocol's words.
			if err := w.Emit(report); !errors.Is(err, sdk.ErrResponseStarted) {
				return fmt.Errorf("late Emit = %v, want sdk.ErrResponseStarted", err)
			}
			return nil
		}, http.StatusOK, "ok", 0, true, 0, 0},
		{"handler error after answering", false, func(w sdk.HookResponseWriter) error {
			w.WriteHeader(http.StatusAccepted)
			return errors.New("broke after the head")
		}, http.StatusAccepted, "", 0, true, 0, 0},
		{"a stream the caller holds open", false, func(w sdk.HookResponseWriter) error {
			w.Emit(report)
			w.Header().Set("Content-Type", "text/event-stream")
			if err := w.Flush(); err != nil {
				return err
			}
			if _, err := w.Write([]byte("data: {}\n\n")); err != nil {
				return err
			}
			return w.Flush()
		}, http.StatusOK, "data: {}", 1, false, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events := &eventStore{fail: tc.storeFails}
			host := startHookHost(t, tc.handle)
			answer := &answerRecorder{}
			req := &hook.Request{Method: "POST", URL: "https://gw.example/api/v1/providers/hooky/hooks/status", Path: "/status", Header: hook.Header{}}
			err := core.ServeHook(t.Context(), host, events, "hooky", req, answer)
			body := answer.body.String()
			var he *core.HookError
			switch {
			case tc.wantStatus == 0:
				if !errors.As(err, &he) || he.Failure != tc.wantFailure || answer.status != 0 || body != "" {
					t.Errorf("ServeHook = %v with %d %q answered, want a *HookError of failure %d and nothing answered", err, answer.status, body, tc.wantFailure)
				}
			case errors.As(err, &he):
				t.Errorf("ServeHook = %v after answering, want no *HookError", err)
			case answer.status != tc.wantStatus || !strings.Contains(body, tc.wantBody):
				t.Errorf("caller got %d %q, want %d containing %q", answer.status, body, tc.wantStatus, tc.wantBody)
			}
			if answer.flushes != tc.wantFlushes {
				t.Errorf("answer flushed %d times, want %d", answer.flushes, tc.wantFlushes)
			}
			if tc.wantFlushes > 0 && !slices.Equal(answer.header["Content-Type"], []string{"text/event-stream"}) {
				t.Errorf("answer's Content-Type = %q, want the plugin's text/event-stream", answer.header["Content-Type"])
			}
			if got := events.count(); got != tc.wantStored {
				t.Errorf("%d events stored, want %d", got, tc.wantStored)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("ServeHook error = %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}

// answerRecorder is the hook's caller: what reached it, in order.
type answerRecorder struct {
	status  int // 0: not started
	header  hook.Header
	body    strings.Builder
	flushes int
}

func (a *answerRecorder) Start(status int, header hook.Header) {
	if a.status != 0 {
		panic("answer started twice")
	}
	a.status, a.header = status, maps.Clone(header)
}

func (a *answerRecorder) Write(p []byte) (int, error) {
	if a.status == 0 {
		panic("answer written before it started")
	}
	return a.body.Write(p)
}

func (a *answerRecorder) Flush() { a.flushes++ }

// startHookHost runs a provider whose hook handler is handle, in process.
func startHookHost(t *testing.T, handle func(w sdk.HookResponseWriter) error) *pluginhost.Host {
	t.Helper()
	h := pluginhost.New(pluginhost.Options{})
	if err := h.Start(t.Context(), []pluginhost.Spec{{Name: "hooky", InProcess: &hookProvider{handle: handle}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	return h
}

// hookProvider is a provider that only answers hooks.
type hookProvider struct {
	handle func(w sdk.HookResponseWriter) error
}

func (p *hookProvider) Info() sdk.Info                              { return sdk.Info{Name: "hooky"} }
func (p *hookProvider) Configure(context.Context, sdk.Config) error { return nil }
func (p *hookProvider) Close(context.Context) error                 { return nil }
func (p *hookProvider) Send(context.Context, []sdk.Message) ([]sdk.SendResult, error) {
	return nil, errors.New("hooky sends nothing")
}

func (p *hookProvider) HandleHook(_ context.Context, _ *sdk.HookRequest, w sdk.HookResponseWriter) error {
	return p.handle(w)
}

// eventStore stands in for the database: a failure to store on demand has
// no real peer.
type eventStore struct {
	fail bool

	mu     sync.Mutex
	stored []message.Event
}

func (s *eventStore) StoreEvents(_ context.Context, _ string, events []message.Event) error {
	if s.fail {
		return errors.New("database is read-only")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stored = append(s.stored, events...)
	return nil
}

func (s *eventStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored)
}
