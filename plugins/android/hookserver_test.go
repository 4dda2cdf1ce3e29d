package android_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

// hookHost plays the host's side of hooks over real HTTP: it hands each
// request under /hooks to the provider and stores the events it emits
// before the answer starts, as the host does.
type hookHost struct {
	srv *httptest.Server
	p   sdk.HookHandler

	mu      sync.Mutex
	events  []sdk.Event
	changed chan struct{}
}

func newHookHost(t *testing.T, p sdk.HookHandler) *hookHost {
	t.Helper()
	h := &hookHost{p: p, changed: make(chan struct{})}
	h.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		h.srv.CloseClientConnections()
		h.srv.Close()
	})
	return h
}

// URL is the provider's hook URL.
func (h *hookHost) URL() string { return h.srv.URL + "/hooks" }

func (h *hookHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &sdk.HookRequest{Method: r.Method, URL: h.srv.URL + r.URL.RequestURI(), Path: strings.TrimPrefix(r.URL.Path, "/hooks"),
		Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr}
	hw := &httpHookWriter{w: w, h: h}
	if err := h.p.HandleHook(r.Context(), req, hw); err != nil && !hw.started {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
}

// stored returns the events stored so far.
func (h *hookHost) stored() []sdk.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Event(nil), h.events...)
}

// waitFor waits until ok holds for the stored events.
func (h *hookHost) waitFor(ctx context.Context, ok func([]sdk.Event) bool) bool {
	for {
		h.mu.Lock()
		evs, ch := append([]sdk.Event(nil), h.events...), h.changed
		h.mu.Unlock()
		if ok(evs) {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

type httpHookWriter struct {
	w       http.ResponseWriter
	h       *hookHost
	started bool
}

func (w *httpHookWriter) Header() http.Header { return w.w.Header() }
func (w *httpHookWriter) WriteHeader(status int) {
	w.started = true
	w.w.WriteHeader(status)
}
func (w *httpHookWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.w.Write(p)
}
func (w *httpHookWriter) Flush() error {
	w.started = true
	return http.NewResponseController(w.w).Flush()
}
func (w *httpHookWriter) Emit(events ...sdk.Event) error {
	if w.started {
		return sdk.ErrResponseStarted
	}
	if len(events) == 0 {
		return nil
	}
	w.h.mu.Lock()
	w.h.events = append(w.h.events, events...)
	close(w.h.changed)
	w.h.changed = make(chan struct{})
	w.h.mu.Unlock()
	return nil
}
