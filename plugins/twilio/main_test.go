package twilio_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { plugins.Close() }))
}

// plugins builds the plugin binaries the tests run, once per test run.
var plugins providertest.Builder

// pluginBinary returns the twilio plugin binary.
func pluginBinary(t *testing.T) string {
	t.Helper()
	return plugins.Build(t, "./testdata/twilioplugin")
}

// fake starts a fake API closed with the test.
func fake(t *testing.T, opts twiliotest.Options) *twiliotest.Server {
	t.Helper()
	f := twiliotest.NewServer(opts)
	t.Cleanup(f.Close)
	return f
}

// settingsFor returns settings pointing at the fake, with extra keys merged in.
func settingsFor(t *testing.T, f *twiliotest.Server, extra map[string]any) json.RawMessage {
	t.Helper()
	doc := map[string]any{
		"account_sid": f.AccountSID(),
		"auth_token":  f.AuthToken(),
		"base_url":    f.URL,
		"from":        "+15017122661",
	}
	for k, v := range extra {
		if v == nil {
			delete(doc, k)
			continue
		}
		doc[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// configured returns a provider configured with settings and hookURL,
// closed with the test.
func configured(t *testing.T, settings json.RawMessage, hookURL string) *twilio.Provider {
	t.Helper()
	p := twilio.New()
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := p.Configure(t.Context(), sdk.Config{Name: "twilio-test", Settings: settings, HookURL: hookURL, Logger: hclog.NewNullLogger()}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

// hookHost serves a provider's hooks over real HTTP the way the host
// forwards them, and keeps the events it would have stored.
type hookHost struct {
	srv *httptest.Server
	mu  sync.Mutex
	evs []sdk.Event
}

func newHookHost(t *testing.T, p sdk.HookHandler) *hookHost {
	t.Helper()
	h := &hookHost{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		path, ok := cutPrefix(r.URL.Path, "/hooks")
		if !ok {
			http.NotFound(w, r)
			return
		}
		req := &sdk.HookRequest{Method: r.Method, URL: "http://" + r.Host + r.URL.RequestURI(), Path: path,
			Header: r.Header.Clone(), Body: body, RemoteAddr: r.RemoteAddr}
		rec := hooktest.NewRecorder()
		if err := p.HandleHook(r.Context(), req, rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		h.mu.Lock()
		h.evs = append(h.evs, rec.Events...)
		h.mu.Unlock()
		for k, v := range rec.HeaderMap {
			w.Header()[k] = v
		}
		if rec.Code == 0 {
			rec.Code = http.StatusOK
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// hookURL is what the host would hand the provider as sdk.Config.HookURL.
func (h *hookHost) hookURL() string { return h.srv.URL + "/hooks" }

func (h *hookHost) events() []sdk.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]sdk.Event(nil), h.evs...)
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || s[:len(prefix)] != prefix {
		return "", false
	}
	return s[len(prefix):], true
}
