package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/server"
)

// TestHookFailureAnswers pins down the answer to a hook its provider did
// not answer: core says why, the server picks the status and writes the
// body, which ends in a newline as it always has.
func TestHookFailureAnswers(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		storeFails bool
		wantStatus int
		wantBody   string
	}{
		{"handler error", errors.New("upstream sent no id"), false, http.StatusBadGateway,
			`{"error":"provider failing could not handle the request: upstream sent no id"}` + "\n"},
		{"provider unavailable", fmt.Errorf("plugin gone: %w", sdk.ErrUnavailable), false, http.StatusServiceUnavailable,
			`{"error":"provider failing is unavailable, try again: plugin gone: plugin unavailable"}` + "\n"},
		{"events not stored", nil, true, http.StatusServiceUnavailable,
			`{"error":"provider failing is unavailable, try again: storing provider events failed: database is read-only"}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := pluginhost.New(pluginhost.Options{})
			if err := h.Start(t.Context(), []pluginhost.Spec{{Name: "failing", InProcess: &failingHooks{err: tc.err}}}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Stop)
			ts := httptest.NewServer(server.New(server.Options{Hooks: h, Events: refusingEvents{fail: tc.storeFails}}))
			defer ts.Close()
			resp, err := http.Post(ts.URL+"/api/v1/providers/failing/hooks/status", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || string(body) != tc.wantBody ||
				resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("HTTP %d %q (%s), want %d %q", resp.StatusCode, body, resp.Header.Get("Content-Type"), tc.wantStatus, tc.wantBody)
			}
		})
	}
}

// failingHooks is a provider whose hook handler emits a report and then
// returns err, or, when err is nil, answers.
type failingHooks struct{ err error }

func (p *failingHooks) Info() sdk.Info                              { return sdk.Info{Name: "failing"} }
func (p *failingHooks) Configure(context.Context, sdk.Config) error { return nil }
func (p *failingHooks) Close(context.Context) error                 { return nil }
func (p *failingHooks) Send(context.Context, []sdk.Message) ([]sdk.SendResult, error) {
	return nil, errors.New("failing sends nothing")
}

func (p *failingHooks) HandleHook(_ context.Context, _ *sdk.HookRequest, w sdk.HookResponseWriter) error {
	if p.err != nil {
		return p.err
	}
	_ = w.Emit(sdk.Event{ID: "ev-1", Status: &sdk.StatusEvent{ProviderMessageID: "p-1", Status: sdk.StatusDelivered}})
	_, err := w.Write([]byte("ok"))
	return err
}

// refusingEvents stands in for the database: a failure to store on demand
// has no real peer.
type refusingEvents struct{ fail bool }

func (e refusingEvents) StoreEvents(context.Context, string, []message.Event) error {
	if e.fail {
		return errors.New("database is read-only")
	}
	return nil
}

// TestHookEventStreamOutlivesWriteTimeout: a hook answered as server-sent
// events keeps streaming past the server's write_timeout, which still
// bounds every other answer.
func TestHookEventStreamOutlivesWriteTimeout(t *testing.T) {
	h := pluginhost.New(pluginhost.Options{})
	if err := h.Start(t.Context(), []pluginhost.Spec{{Name: "stream", InProcess: &streamingHooks{}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Stop)
	tr := config.DefaultTransport()
	tr.WriteTimeout = 100 * time.Millisecond
	srv, err := server.NewHTTP(server.New(server.Options{Hooks: h, Events: refusingEvents{}}), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/api/v1/providers/stream/hooks/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "data: 1\n\ndata: 2\n\n" {
		t.Errorf("stream = %q, %v; want both events, the second after write_timeout", body, err)
	}
}

// streamingHooks answers every hook with two events, the second after
// more than the test server's write_timeout.
type streamingHooks struct{ failingHooks }

func (p *streamingHooks) HandleHook(ctx context.Context, _ *sdk.HookRequest, w sdk.HookResponseWriter) error {
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = w.Write([]byte("data: 1\n\n"))
	if err := w.Flush(); err != nil {
		return err
	}
	select {
	case <-time.After(300 * time.Millisecond): // past write_timeout: the point of the test
	case <-ctx.Done():
		return ctx.Err()
	}
	_, err := w.Write([]byte("data: 2\n\n"))
	return err
}
