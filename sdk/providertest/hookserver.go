package providertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/smsrouter/smsrouter/sdk"
)

// hookServer plays the host's side of hooks: an HTTP server under the
// provider's hook URL that hands each request to HandleHook and stores the
// events it emits.
type hookServer struct {
	t         tb
	srv       *httptest.Server
	publicURL string // given to Configure as Config.HookURL
	prefix    string // the path of publicURL, under which requests come in
	store     func(context.Context, sdk.Event) error
	once      sync.Once

	mu sync.Mutex
	p  sdk.Provider
}

func newHookServer(t tb, public string, store func(context.Context, sdk.Event) error) *hookServer {
	h := &hookServer{t: t, store: store}
	h.srv = httptest.NewServer(h)
	h.publicURL = strings.TrimRight(public, "/")
	if h.publicURL == "" {
		h.publicURL = h.srv.URL + "/hooks"
	}
	if u, err := url.Parse(h.publicURL); err == nil {
		h.prefix = u.Path
	}
	return h
}

// setProvider makes p the provider requests are handed to.
func (h *hookServer) setProvider(p sdk.Provider) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.p = p
}

func (h *hookServer) provider() sdk.Provider {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// No connection outlives its request, so none counts as the
	// provider's leak.
	w.Header().Set("Connection", "close")
	hh, ok := h.provider().(sdk.HookHandler)
	if !ok || !strings.HasPrefix(r.URL.Path, h.prefix) {
		http.Error(w, "providertest: no hooks here", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rest := strings.TrimPrefix(r.URL.RequestURI(), h.prefix)
	req := &sdk.HookRequest{Method: r.Method, URL: h.publicURL + rest, Path: strings.TrimPrefix(r.URL.Path, h.prefix),
		Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr}
	res := handleHook(r.Context(), h.t, hh, req, w, h.store)
	if res.late > 0 {
		h.t.Errorf("hook %s %s: %d events emitted after the response started; emit every event before the first Write or WriteHeader, so the host stores it before the caller hears success", req.Method, req.Path, res.late)
	}
}

// deliver sends a request addressed under the public hook URL to the
// server, as the upstream would, and returns the status it got.
func (h *hookServer) deliver(ctx context.Context, r *http.Request) (int, error) {
	u, err := url.Parse(h.srv.URL)
	if err != nil {
		return 0, err
	}
	r = r.Clone(ctx)
	r.URL.Scheme, r.URL.Host, r.Host, r.RequestURI = u.Scheme, u.Host, u.Host, ""
	resp, err := h.srv.Client().Do(r)
	if err != nil {
		return 0, fmt.Errorf("post %s: %w", r.URL.Path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (h *hookServer) close() {
	h.once.Do(func() {
		h.srv.CloseClientConnections()
		h.srv.Close()
	})
}

// hookResult is what one hook request came to.
type hookResult struct {
	status   int         // what the caller got
	events   []sdk.Event // emitted
	late     int         // of those, emitted after the response started
	err      error       // HandleHook's error
	panicked bool
}

// handleHook runs req through HandleHook as the host does: events emitted
// before the response are stored before it starts, an error before any
// response becomes 502, a panic 500.
func handleHook(ctx context.Context, t tb, hh sdk.HookHandler, req *sdk.HookRequest, w http.ResponseWriter,
	store func(context.Context, sdk.Event) error) hookResult {
	t.Helper()
	hw := &hostWriter{ctx: ctx, w: w, header: http.Header{}, store: store}
	var err error
	panicked := guard(t, fmt.Sprintf("HandleHook(%s %s)", req.Method, req.Path), func() {
		err = hh.HandleHook(ctx, req, hw)
	})
	hw.mu.Lock()
	defer hw.mu.Unlock()
	// The host stores what is still pending once the handler returns.
	defer hw.storeLocked()
	if errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("HandleHook(%s %s): %v; the plugin process is gone (did the handler panic?)", req.Method, req.Path, err)
	}
	switch {
	case panicked:
		hw.writeHeaderLocked(http.StatusInternalServerError)
	case err != nil:
		hw.writeHeaderLocked(http.StatusBadGateway)
	default:
		hw.writeHeaderLocked(http.StatusOK)
	}
	return hookResult{status: hw.status, events: hw.events, late: hw.late, err: err, panicked: panicked}
}

// hostWriter is the host's HookResponseWriter.
type hostWriter struct {
	ctx    context.Context
	w      http.ResponseWriter
	header http.Header
	store  func(context.Context, sdk.Event) error

	mu      sync.Mutex
	status  int // 0 until the response started
	pending []sdk.Event
	events  []sdk.Event
	late    int
}

func (h *hostWriter) Header() http.Header { return h.header }

func (h *hostWriter) WriteHeader(status int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writeHeaderLocked(status)
}

func (h *hostWriter) writeHeaderLocked(status int) {
	if h.status != 0 {
		return
	}
	h.storeLocked()
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	for k, v := range h.header {
		h.w.Header()[k] = v
	}
	h.w.WriteHeader(status)
	h.status = status
}

func (h *hostWriter) storeLocked() {
	for _, ev := range h.pending {
		if h.store != nil {
			_ = h.store(h.ctx, ev)
		}
	}
	h.pending = nil
}

func (h *hostWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writeHeaderLocked(http.StatusOK)
	h.storeLocked()
	return h.w.Write(p)
}

func (h *hostWriter) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writeHeaderLocked(http.StatusOK)
	h.storeLocked()
	if f, ok := h.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

func (h *hostWriter) Emit(events ...sdk.Event) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status != 0 {
		// Counted for the kit's check; the host refuses them.
		h.late += len(events)
		return fmt.Errorf("emitted %d event(s): %w", len(events), sdk.ErrResponseStarted)
	}
	h.events = append(h.events, events...)
	h.pending = append(h.pending, events...)
	return nil
}
