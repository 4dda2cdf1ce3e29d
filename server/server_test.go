package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testConfig = `
provider "sandbox" {
  plugin = "sandbox"
  config = { dlr_delay = "10ms", seed = 7 }
}
provider "hooky" {
  plugin = "hooky"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`

// hookProvider is an in-process provider whose upstream talks to us through
// HTTP hooks: /status reports a delivery, /stream holds a streamed answer
// open and writes each chunk the test hands it.
type hookProvider struct {
	chunks chan string
	gone   chan struct{}
	once   sync.Once
}

func (p *hookProvider) Info() sdk.Info {
	return sdk.Info{Name: "hooky", Version: "test", MaxBatchSize: 10}
}
func (p *hookProvider) Configure(context.Context, sdk.Config) error { return nil }
func (p *hookProvider) Close(context.Context) error                 { return nil }
func (p *hookProvider) Send(_ context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		out[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: "h-" + m.ID}
	}
	return out, nil
}

func (p *hookProvider) HandleHook(ctx context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	switch req.Path {
	case "/status":
		form, err := url.ParseQuery(string(req.Body))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return nil
		}
		id, st := form.Get("id"), form.Get("status")
		w.Emit(sdk.Event{ID: id + "/" + st, Status: &sdk.StatusEvent{ProviderMessageID: id, Status: sdk.Status(st), ProviderStatus: st}})
		w.Header().Set("Content-Type", "text/plain")
		_, err = io.WriteString(w, "stored "+req.URL)
		return err
	case "/stream":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		if err := w.Flush(); err != nil {
			return err
		}
		for {
			select {
			case c, ok := <-p.chunks:
				if !ok {
					return nil
				}
				if _, err := io.WriteString(w, "data: "+c+"\n\n"); err != nil {
					return err
				}
				if err := w.Flush(); err != nil {
					return err
				}
			case <-ctx.Done():
				p.once.Do(func() { close(p.gone) })
				return ctx.Err()
			}
		}
	}
	w.WriteHeader(http.StatusNotFound)
	return nil
}

type env struct {
	url   string
	key   string
	store *store.Store
	hooky *hookProvider
}

func setup(t *testing.T, st *store.Store) *env {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig), "test.hcl", config.Options{BuiltinKinds: []string{"sandbox", "hooky"}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	hp := &hookProvider{chunks: make(chan string), gone: make(chan struct{})}
	host := pluginhost.New(pluginhost.Options{Events: st})
	specs := []pluginhost.Spec{{Name: "hooky", InProcess: hp}}
	for _, p := range cfg.Providers {
		if p.Name == "sandbox" {
			specs = append(specs, pluginhost.Spec{Name: p.Name, Settings: p.Settings, InProcess: sandbox.New()})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := host.Start(ctx, specs); err != nil {
		t.Fatalf("start host: %v", err)
	}
	disp := dispatch.New(st, host, dispatch.Options{PollInterval: 50 * time.Millisecond, MinRetry: 10 * time.Millisecond})
	done := make(chan struct{})
	go func() { defer close(done); _ = disp.Run(ctx) }()
	svc := core.NewService(st, cfg.Table, disp, core.Options{})
	ts := httptest.NewServer(server.New(server.Options{Messages: svc, Keys: st, Hooks: host, Events: st}))
	t.Cleanup(func() {
		ts.Close()
		cancel()
		<-done
		host.Stop()
	})
	acc, err := st.CreateAccount(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := st.CreateAPIKey(context.Background(), acc.ID, "test", []string{account.PermSendSMS})
	if err != nil {
		t.Fatal(err)
	}
	return &env{url: ts.URL, key: raw, store: st, hooky: hp}
}

func (e *env) do(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// awaitStatus polls the status endpoint, as the guide tells applications to,
// until the message reaches want or the deadline passes.
func (e *env) awaitStatus(t *testing.T, id, want string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last map[string]any
	for time.Now().Before(deadline) {
		code, body := e.do(t, "GET", "/api/v1/sms/status/"+id, e.key, "")
		if code != http.StatusOK {
			t.Fatalf("status of %s: HTTP %d %v", id, code, body)
		}
		if body["status"] == want {
			return body
		}
		last = body
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("message %s did not reach %q; last answer %v", id, want, last)
	return nil
}

func TestSendReachesDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := setup(t, st)
		code, body := e.do(t, "POST", "/api/v1/sms/send", e.key, `{"to":"+959123456789","message":"Hello from My SaaS App!"}`)
		if code != http.StatusAccepted || body["success"] != true || body["status"] != "queued" {
			t.Fatalf("send: HTTP %d %v", code, body)
		}
		id, _ := body["message_id"].(string)
		if !strings.HasPrefix(id, "msg_") {
			t.Fatalf("message_id %q does not start with msg_", id)
		}
		got := e.awaitStatus(t, id, "delivered")
		for _, k := range []string{"sent_at", "delivered_at"} {
			if _, err := time.Parse(time.RFC3339, fmt.Sprint(got[k])); err != nil {
				t.Errorf("%s = %v, want an RFC 3339 time", k, got[k])
			}
		}
		if got["failed_at"] != nil || got["error_message"] != nil {
			t.Errorf("failed_at/error_message = %v/%v, want null", got["failed_at"], got["error_message"])
		}
	})
}

func TestErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := setup(t, st)
		cases := []struct {
			name, method, path, key, body string
			code                          int
			errText                       string
		}{
			{"no key", "POST", "/api/v1/sms/send", "", `{"to":"+959123456789","message":"x"}`, 401, "Unauthorized"},
			{"wrong key", "POST", "/api/v1/sms/send", "api_live_nope", `{"to":"+959123456789","message":"x"}`, 401, "Unauthorized"},
			{"impossible number", "POST", "/api/v1/sms/send", e.key, `{"to":"+1234","message":"x"}`, 422, "Invalid phone number format"},
			{"national number", "POST", "/api/v1/sms/send", e.key, `{"to":"09123456789","message":"x"}`, 422, "Invalid phone number format"},
			{"missing to", "POST", "/api/v1/sms/send", e.key, `{"message":"x"}`, 422, "to is required"},
			{"missing message", "POST", "/api/v1/sms/send", e.key, `{"to":"+959123456789"}`, 422, "message is required"},
			{"malformed JSON", "POST", "/api/v1/sms/send", e.key, `{"to":`, 422, "not valid JSON"},
			{"wrong type", "POST", "/api/v1/sms/send", e.key, `{"to":959123456789,"message":"x"}`, 422, "to must be a string"},
			{"unknown message", "GET", "/api/v1/sms/status/msg_doesnotexist", e.key, "", 404, "Message not found"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				code, body := e.do(t, c.method, c.path, c.key, c.body)
				if code != c.code {
					t.Fatalf("HTTP %d %v, want %d", code, body, c.code)
				}
				if msg, _ := body["error"].(string); !strings.Contains(msg, c.errText) {
					t.Fatalf("error %q does not contain %q", msg, c.errText)
				}
			})
		}
		if code, _ := e.do(t, "GET", "/up", "", ""); code != http.StatusOK {
			t.Errorf("/up: HTTP %d", code)
		}
	})
}

func TestHookEventsAreStoredBeforeTheAnswer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := setup(t, st)
		// Route to hooky by sending directly through a message it accepted:
		// the default route goes to sandbox, so store a hooky message by hand.
		now := time.Now().UTC()
		msg := &store.Message{ID: recordid.New("msg_"), AccountID: mustAccount(t, e), Recipient: "+959123456789", Text: "x",
			Encoding: "gsm7", Segments: 1, Kind: "sms", Status: "queued", Plan: `["hooky"]`, NextAttemptAt: now,
			ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		if err := storetest.InsertMessages(context.Background(), st, []*store.Message{msg}); err != nil {
			t.Fatal(err)
		}
		e.awaitStatus(t, msg.ID, "sent")
		resp, err := http.Post(e.url+"/api/v1/providers/hooky/hooks/status?sig=1", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"id": {"h-" + msg.ID}, "status": {"delivered"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(b) != "stored "+e.url+"/api/v1/providers/hooky/hooks/status?sig=1" {
			t.Fatalf("hook answer: HTTP %d %q", resp.StatusCode, b)
		}
		// The answer was written after the event was stored: no waiting here.
		got, err := st.GetMessage(context.Background(), msg.AccountID, msg.ID)
		if err != nil || got.Status != "delivered" {
			t.Fatalf("after the hook answered, message is %q (%v), want delivered", got.Status, err)
		}

		for _, c := range []struct{ path, want string }{
			{"/api/v1/providers/nosuch/hooks/x", "no provider named"},
			{"/api/v1/providers/sandbox/hooks/x", "does not take HTTP hooks"},
		} {
			resp, err := http.Post(e.url+c.path, "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), c.want) {
				t.Errorf("%s: HTTP %d %s, want 404 with %q", c.path, resp.StatusCode, b, c.want)
			}
			// The answer's shape is the API's: a JSON object ending in a
			// newline, whoever decides the status.
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" || !strings.HasPrefix(string(b), `{"error":"`) ||
				!strings.HasSuffix(string(b), "\"}\n") {
				t.Errorf("%s: Content-Type %q, body %q; want a JSON error object and a newline", c.path, ct, b)
			}
		}
	})
}

func mustAccount(t *testing.T, e *env) string {
	t.Helper()
	k, err := e.store.Authenticate(context.Background(), e.key)
	if err != nil {
		t.Fatal(err)
	}
	return k.AccountID
}

func TestStreamedHook(t *testing.T) {
	e := setup(t, storetest.Open(t, "sqlite"))

	t.Run("chunks arrive as produced, provider ends", func(t *testing.T) {
		resp, err := http.Get(e.url + "/api/v1/providers/hooky/hooks/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		r := bufio.NewReader(resp.Body)
		for _, c := range []string{"one", "two", "three"} {
			// The next chunk is produced only after the previous one was
			// read by the client, so each read proves a chunk arrived alone.
			e.hooky.chunks <- c
			line, err := r.ReadString('\n')
			if err != nil || line != "data: "+c+"\n" {
				t.Fatalf("read %q, %v; want chunk %q", line, err, c)
			}
			_, _ = r.ReadString('\n')
		}
		close(e.hooky.chunks)
		if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
			t.Fatalf("after the provider ended: %q, %v; want a clean end of stream", rest, err)
		}
	})

	t.Run("client goes away", func(t *testing.T) {
		e.hooky.chunks = make(chan string)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/providers/hooky/hooks/stream", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		e.hooky.chunks <- "hello"
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		if line != "data: hello\n" {
			t.Fatalf("read %q", line)
		}
		cancel()
		resp.Body.Close()
		select {
		case <-e.hooky.gone:
		case <-time.After(10 * time.Second):
			t.Fatal("the provider's hook context was not cancelled after the client went away")
		}
	})
}
