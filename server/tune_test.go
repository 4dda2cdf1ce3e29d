package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/providerstats"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

const twoSandboxes = `
provider "sbx-a" {
  plugin = "sandbox"
  config = { dlr_delay = "10ms" }
}
provider "sbx-b" {
  plugin = "sandbox"
  config = { dlr_delay = "10ms" }
}
route "default" {
  default    = true
  candidates = ["sbx-a", "sbx-b"]
}
`

// rehearsal is an API over two in-process sandboxes, sbx-a first in the
// route, with the live state routing and accept read, as serve wires it.
type rehearsal struct {
	*env
	admin string
	sbx   map[string]*sandbox.Provider
}

func setupRehearsal(t *testing.T, st *store.Store) *rehearsal {
	t.Helper()
	return setupRehearsalWith(t, st, twoSandboxes)
}

func setupRehearsalWith(t *testing.T, st *store.Store, src string) *rehearsal {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "rehearsal.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := &rehearsal{sbx: map[string]*sandbox.Provider{}}
	var specs []pluginhost.Spec
	for _, p := range cfg.Providers {
		r.sbx[p.Name] = sandbox.New()
		specs = append(specs, pluginhost.Spec{Name: p.Name, Settings: p.Settings, InProcess: r.sbx[p.Name]})
	}
	host := pluginhost.New(pluginhost.Options{Events: st})
	ctx, cancel := context.WithCancel(context.Background())
	if err := host.Start(ctx, specs); err != nil {
		t.Fatalf("start host: %v", err)
	}
	live := core.LiveState{Host: host, Stats: providerstats.New(nil)}
	disp := dispatch.New(st, host, dispatch.Options{PollInterval: 20 * time.Millisecond, MinRetry: 10 * time.Millisecond, Health: live})
	done := make(chan struct{})
	go func() { defer close(done); _ = disp.Run(ctx) }()
	svc := core.NewService(st, routing.NewRouter(cfg.Table, live), disp, core.Options{State: live})
	ts := httptest.NewServer(server.New(server.Options{Messages: svc, Keys: st, Events: st, Providers: host, Controls: host}))
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
	sms, _, err := st.CreateAPIKey(context.Background(), acc.ID, "sms", []string{account.PermSendSMS})
	if err != nil {
		t.Fatal(err)
	}
	admin, _, err := st.CreateAPIKey(context.Background(), acc.ID, "admin", []string{account.PermSystemAdmin})
	if err != nil {
		t.Fatal(err)
	}
	r.env = &env{url: ts.URL, key: sms, store: st}
	r.admin = admin
	return r
}

func (r *rehearsal) tune(t *testing.T, name, body string, want int) map[string]any {
	t.Helper()
	code, out := r.do(t, "POST", "/api/v1/admin/providers/"+name+"/tune", r.admin, body)
	if code != want {
		t.Fatalf("tune %s %s: HTTP %d %v, want %d", name, body, code, out, want)
	}
	return out
}

func (r *rehearsal) send(t *testing.T) (int, map[string]any) {
	t.Helper()
	return r.do(t, "POST", "/api/v1/sms/send", r.key, `{"to":"+959123456789","message":"rehearsal"}`)
}

// tookIt reports whether the named sandbox took the message.
func (r *rehearsal) tookIt(t *testing.T, name, id string) bool {
	t.Helper()
	msgs, err := r.sbx[name].Outbox(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.MessageID == id {
			return true
		}
	}
	return false
}

// TestTunedOutageFailsOver rehearses an outage through the admin API: the
// first sandbox is tuned down at runtime and messages go to the second,
// then it is tuned up and takes them again.
func TestTunedOutageFailsOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := setupRehearsal(t, st)
		for _, phase := range []struct {
			health, want, other string
		}{{"down", "sbx-b", "sbx-a"}, {"up", "sbx-a", "sbx-b"}} {
			got := r.tune(t, "sbx-a", `{"health":"`+phase.health+`"}`, http.StatusOK)
			if v, _ := got["values"].(map[string]any); v["health"] != phase.health {
				t.Fatalf("tune answered %v, want health %s", got, phase.health)
			}
			code, body := r.send(t)
			if code != http.StatusAccepted {
				t.Fatalf("send with sbx-a %s: HTTP %d %v", phase.health, code, body)
			}
			id, _ := body["message_id"].(string)
			r.awaitStatus(t, id, "delivered")
			if !r.tookIt(t, phase.want, id) || r.tookIt(t, phase.other, id) {
				t.Errorf("with sbx-a %s, message %s went to the wrong sandbox; want %s only", phase.health, id, phase.want)
			}
		}
	})
}

// TestNoGatewayOnlineAtAccept: with every candidate down and refusing while
// down, a send is answered the integration guide's 503 at once; with one
// candidate down but not refusing, the message is accepted and waits.
func TestNoGatewayOnlineAtAccept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := setupRehearsal(t, st)
		r.tune(t, "sbx-a", `{"health":"down","refuse_while_down":"true"}`, http.StatusOK)
		r.tune(t, "sbx-b", `{"health":"down","refuse_while_down":"true"}`, http.StatusOK)
		code, body := r.send(t)
		if code != http.StatusServiceUnavailable || len(body) != 1 || body["error"] != "No gateway online" {
			t.Fatalf(`send with every gateway down: HTTP %d %v, want 503 {"error":"No gateway online"}`, code, body)
		}
		code, body = r.do(t, "POST", "/api/v1/sms/send", r.key,
			`{"to":"+959123456789","message":"later","send_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
		if code != http.StatusAccepted {
			t.Errorf("a scheduled send with every gateway down: HTTP %d %v, want 202 (the gateway may be back by then)", code, body)
		}

		r.tune(t, "sbx-b", `{"refuse_while_down":"false"}`, http.StatusOK)
		if code, body := r.send(t); code != http.StatusAccepted {
			t.Errorf("send with sbx-b down but not refusing: HTTP %d %v, want 202", code, body)
		}
		code, list := r.do(t, "GET", "/api/v1/admin/providers", r.admin, "")
		provs, _ := list["providers"].([]any)
		if code != http.StatusOK || len(provs) != 2 {
			t.Fatalf("providers: HTTP %d %v", code, list)
		}
		a, _ := provs[0].(map[string]any)
		if a["name"] != "sbx-a" || a["healthy"] != false || a["refuse_while_down"] != true {
			t.Errorf("sbx-a listed as %v, want unhealthy and refuse_while_down", a)
		}
	})
}

func TestTuneAndRevokeErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := setupRehearsal(t, st)
		for _, tc := range []struct {
			method, path, key, body string
			want                    int
		}{
			{"POST", "/api/v1/admin/providers/sbx-a/tune", "admin", `{"speed":"11"}`, http.StatusUnprocessableEntity},
			{"POST", "/api/v1/admin/providers/sbx-a/tune", "admin", `{"failure_ratio":2}`, http.StatusBadRequest},
			{"POST", "/api/v1/admin/providers/nope/tune", "admin", `{}`, http.StatusNotFound},
			{"POST", "/api/v1/admin/providers/sbx-a/tune", "sms", `{}`, http.StatusForbidden},
			{"DELETE", "/api/v1/admin/providers/sbx-a/devices/ph-1", "admin", ``, http.StatusConflict},
			{"DELETE", "/api/v1/admin/providers/nope/devices/ph-1", "admin", ``, http.StatusNotFound},
		} {
			key := r.key
			if tc.key == "admin" {
				key = r.admin
			}
			code, body := r.do(t, tc.method, tc.path, key, tc.body)
			if code != tc.want || body["error"] == nil {
				t.Errorf("%s %s %s: HTTP %d %v, want %d with an error", tc.method, tc.path, tc.body, code, body, tc.want)
			}
		}
		if got := r.tune(t, "sbx-a", `{}`, http.StatusOK); got["values"] == nil {
			t.Errorf("tune with no changes answered %v, want the values", got)
		}
	})
}

// TestNoGatewayOnlineWhenFiltersDropThem: a route that filters on health
// drops gateways that are down; when those were all refusing, the answer
// is still the guide's 503, not "no route".
func TestNoGatewayOnlineWhenFiltersDropThem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := setupRehearsalWith(t, st, strings.Replace(twoSandboxes, `candidates = ["sbx-a", "sbx-b"]`,
			`candidates = ["sbx-a", "sbx-b"]
  filter     = "healthy"`, 1))
		r.tune(t, "sbx-a", `{"health":"down","refuse_while_down":"true"}`, http.StatusOK)
		r.tune(t, "sbx-b", `{"health":"down","refuse_while_down":"true"}`, http.StatusOK)
		code, body := r.send(t)
		if code != http.StatusServiceUnavailable || body["error"] != "No gateway online" {
			t.Fatalf(`send with every gateway down and filtered out: HTTP %d %v, want 503 {"error":"No gateway online"}`, code, body)
		}
		r.tune(t, "sbx-b", `{"health":"up"}`, http.StatusOK)
		if code, body := r.send(t); code != http.StatusAccepted {
			t.Errorf("send with sbx-b back up: HTTP %d %v, want 202", code, body)
		}
	})
}
