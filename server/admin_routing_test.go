package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

const (
	routesOld = `
provider "a" {
  plugin = "sandbox"
}
provider "b" {
  plugin = "sandbox"
}
route "mm" {
  match      = "country == 'MM'"
  candidates = ["a"]
}
route "old" {
  default    = true
  candidates = ["a"]
}
`
	routesNew = `
provider "a" {
  plugin = "sandbox"
}
provider "b" {
  plugin = "sandbox"
}
route "mm-otp" {
  match      = "country == 'MM' && kind == 'otp'"
  candidates = ["b", "a"]
}
route "new" {
  default    = true
  candidates = ["b", "a"]
}
`
	routesBroken = `
provider "a" {
  plugin = "sandbox"
}
provider "b" {
  plugin = "sandbox"
}
route "mm" {
  match      = "country == 'MM' && knd == 'otp'"
  candidates = ["a"]
}
route "new" {
  default    = true
  candidates = ["b"]
}
`
)

type routingEnv struct {
	url      string
	admin    string
	sender   string
	account  string
	svc      *core.Service
	store    *store.Store
	source   atomic.Value // the config text the next reload reads
	router   *routing.Router
	accepted atomic.Int64 // reloads that swapped a table
}

func loadRoutes(src string) (*config.Config, error) {
	return config.Parse([]byte(src), "routes.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
}

func setupRouting(t *testing.T) *routingEnv {
	t.Helper()
	st := storetest.Open(t, "sqlite")
	cfg, err := loadRoutes(routesOld)
	if err != nil {
		t.Fatal(err)
	}
	e := &routingEnv{store: st, router: routing.NewRouter(cfg.Table, nil)}
	e.source.Store(routesOld)
	reload := func(context.Context) error {
		cfg, err := loadRoutes(e.source.Load().(string))
		if err != nil {
			return fmt.Errorf("reload refused, the running routing table stays:\n%w", err)
		}
		e.router.Swap(cfg.Table)
		e.accepted.Add(1)
		return nil
	}
	e.svc = core.NewService(st, e.router, nil, core.Options{})
	ts := httptest.NewServer(server.New(server.Options{Messages: e.svc, Keys: st, Routes: e.router, Reload: reload}))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	acc, err := st.CreateAccount(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	e.account = acc.ID
	if e.admin, _, err = st.CreateAPIKey(context.Background(), acc.ID, "admin", []string{account.PermSystemAdmin}); err != nil {
		t.Fatal(err)
	}
	if e.sender, _, err = st.CreateAPIKey(context.Background(), acc.ID, "sender", []string{account.PermSendSMS}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *routingEnv) post(t *testing.T, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %s: body is not JSON: %v", path, err)
	}
	return resp.StatusCode, out
}

func TestRouteExplainEndpoint(t *testing.T) {
	e := setupRouting(t)
	body := `{"to":"+959791234567","text":"Your code is 123456","kind":"otp","tags":{"campaign":"signup"}}`
	code, out := e.post(t, "/api/v1/admin/route/explain", e.admin, body)
	if code != http.StatusOK {
		t.Fatalf("explain: HTTP %d %v", code, out)
	}
	if out["route"] != "mm" || fmt.Sprint(out["candidates"]) != "[a]" {
		t.Errorf("explain chose %v %v", out["route"], out["candidates"])
	}
	msg, _ := out["message"].(map[string]any)
	if msg["country"] != "MM" || msg["kind"] != "otp" || msg["account"] != e.account || msg["segments"] != 1.0 {
		t.Errorf("message facts = %v", msg)
	}
	routes, _ := out["routes"].([]any)
	if len(routes) != 1 || routes[0].(map[string]any)["match"] != "country == 'MM'" {
		t.Errorf("routes = %v", routes)
	}

	if code, out := e.post(t, "/api/v1/admin/route/explain", e.sender, body); code != http.StatusForbidden {
		t.Errorf("without admin permission: HTTP %d %v", code, out)
	}
	// Routing is the installation's: an account admin key is refused both.
	tenant, _, err := e.store.CreateAPIKey(t.Context(), e.account, "tenant admin", []string{account.PermAccountAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/admin/route/explain", "/api/v1/admin/reload"} {
		if code, out := e.post(t, path, tenant, body); code != http.StatusForbidden || !strings.Contains(fmt.Sprint(out["error"]), "lacks the system_admin permission") {
			t.Errorf("%s with an account admin key: HTTP %d %v", path, code, out)
		}
	}
	if code, out := e.post(t, "/api/v1/admin/route/explain", e.admin, `{"to":"959","text":"x"}`); code != http.StatusUnprocessableEntity || out["error"] != "Invalid phone number format" {
		t.Errorf("bad number: HTTP %d %v", code, out)
	}
}

func TestReloadEndpointRefusesBrokenConfig(t *testing.T) {
	e := setupRouting(t)
	e.source.Store(routesBroken)
	code, out := e.post(t, "/api/v1/admin/reload", e.admin, "")
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("broken reload: HTTP %d %v", code, out)
	}
	problems := fmt.Sprint(out["problems"])
	if !strings.Contains(fmt.Sprint(out["error"]), "running routing table stays") || !strings.Contains(problems, "routes.hcl:9:36: Invalid match rule") {
		t.Errorf("broken reload answer = %v", out)
	}
	if got := e.router.Table().Routes(); fmt.Sprint(got) != "[mm old]" {
		t.Errorf("routes after a refused reload = %v, want the old table", got)
	}
	if code, out := e.post(t, "/api/v1/admin/reload", e.sender, ""); code != http.StatusForbidden {
		t.Errorf("reload without admin permission: HTTP %d %v", code, out)
	}

	e.source.Store(routesNew)
	if code, out := e.post(t, "/api/v1/admin/reload", e.admin, ""); code != http.StatusOK || out["success"] != true {
		t.Fatalf("good reload: HTTP %d %v", code, out)
	}
	sent, err := e.svc.Send(t.Context(), e.account, core.SendRequest{To: "+959791234567", Message: "hi", Kind: "otp"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.store.GetMessage(t.Context(), e.account, sent.ID)
	if err != nil || m.Route != "mm-otp" || m.Plan != `["b","a"]` {
		t.Errorf("after reload: %s %s, %v", m.Route, m.Plan, err)
	}
}

// TestReloadUnderTraffic sends messages from several goroutines while the
// admin endpoint swaps tables back and forth: every send succeeds, with a
// plan wholly from one table or the other, and every message is stored once.
func TestReloadUnderTraffic(t *testing.T) {
	e := setupRouting(t)
	const senders, each = 4, 40
	plans := map[string]string{"old": `["a"]`, "new": `["b","a"]`}
	var wg sync.WaitGroup
	results := make(chan message.View, senders*each)
	stop := make(chan struct{})
	for range senders {
		wg.Go(func() {
			for range each {
				m, err := e.svc.Send(context.Background(), e.account, core.SendRequest{To: "+14155552671", Message: "hello"})
				if err != nil {
					t.Errorf("send during reload: %v", err)
					return
				}
				results <- m
			}
		})
	}
	reloads := make(chan struct{})
	go func() {
		defer close(reloads)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			src := routesNew
			switch i % 3 {
			case 1:
				src = routesOld
			case 2:
				src = routesBroken
			}
			e.source.Store(src)
			req, _ := http.NewRequest("POST", e.url+"/api/v1/admin/reload", nil)
			req.Header.Set("Authorization", "Bearer "+e.admin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("reload: %v", err)
				return
			}
			resp.Body.Close()
		}
	}()
	wg.Wait()
	close(stop)
	<-reloads
	close(results)

	seen := map[string]bool{}
	routes := map[string]int{}
	for m := range results {
		if seen[m.ID] {
			t.Errorf("message id %s returned twice", m.ID)
		}
		seen[m.ID] = true
		stored, err := e.store.GetMessage(context.Background(), e.account, m.ID)
		if err != nil {
			t.Errorf("message %s: %v", m.ID, err)
			continue
		}
		if want, ok := plans[stored.Route]; !ok || stored.Plan != want {
			t.Errorf("message %s: route %q plan %s is from neither table", m.ID, stored.Route, stored.Plan)
		}
		routes[stored.Route]++
	}
	if len(seen) != senders*each {
		t.Errorf("%d messages accepted, want %d", len(seen), senders*each)
	}
	t.Logf("routes used: %v after %d accepted reloads", routes, e.accepted.Load())
	if e.accepted.Load() < 2 {
		t.Errorf("only %d reloads were accepted during the traffic; the test did not exercise swapping", e.accepted.Load())
	}
}

// The admin explanation takes a time and the providers' state to assume,
// so an operator can ask "what if smpp-b were down at 23:10 in Yangon".
func TestRouteExplainWhatIf(t *testing.T) {
	e := setupRouting(t)
	cfg, err := loadRoutes(`
routing {
  timezone = "Asia/Yangon"
}
provider "a" {
  plugin = "sandbox"
}
provider "b" {
  plugin = "sandbox"
}
route "night" {
  match      = "kind == 'marketing' && !between(hour, 6, 22)"
  candidates = ["b"]
}
route "otp" {
  match      = "kind == 'otp'"
  candidates = ["a", "b"]
  filter     = "healthy && has_balance && balance > 50 && success_rate >= 0.8"
}
route "default" {
  default    = true
  candidates = ["a"]
}
`)
	if err != nil {
		t.Fatal(err)
	}
	e.router.Swap(cfg.Table)
	tests := []struct {
		name  string
		body  string
		code  int
		route string
		cands string
	}{
		{"no balance known", `{"to":"+959791234567","text":"x","kind":"otp"}`, 200, "default", "[a]"},
		{"balances and health", `{"to":"+959791234567","text":"x","kind":"otp","providers":{"a":{"balance":60,"healthy":false},"b":{"balance":70}}}`, 200, "otp", "[b]"},
		{"poor success rate", `{"to":"+959791234567","text":"x","kind":"otp","providers":{"a":{"balance":60,"success_rate":0.5},"b":{"balance":70}}}`, 200, "otp", "[b]"},
		{"at night local time", `{"to":"+959791234567","text":"x","kind":"marketing","at":"2026-12-07T23:10+06:30"}`, 200, "night", "[b]"},
		{"at noon", `{"to":"+959791234567","text":"x","kind":"marketing","at":"2026-12-07T12:00:00+06:30"}`, 200, "default", "[a]"},
		{"bad time", `{"to":"+959791234567","text":"x","at":"23:10"}`, 400, "", ""},
		{"unknown provider", `{"to":"+959791234567","text":"x","providers":{"c":{"healthy":false}}}`, 400, "", ""},
		{"success rate out of range", `{"to":"+959791234567","text":"x","providers":{"a":{"success_rate":2}}}`, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := e.post(t, "/api/v1/admin/route/explain", e.admin, tt.body)
			if code != tt.code {
				t.Fatalf("HTTP %d %v, want %d", code, out, tt.code)
			}
			if code != 200 {
				if out["error"] == "" {
					t.Errorf("refusal without a reason: %v", out)
				}
				return
			}
			if out["route"] != tt.route || fmt.Sprint(out["candidates"]) != tt.cands {
				t.Errorf("explain chose %v %v, want %s %s", out["route"], out["candidates"], tt.route, tt.cands)
			}
		})
	}
}

// The admin explanation says when the chosen route holds the message.
func TestRouteExplainShowsHold(t *testing.T) {
	e := setupRouting(t)
	cfg, err := loadRoutes(`
routing {
  timezone = "Asia/Yangon"
}
provider "a" {
  plugin = "sandbox"
}
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["a"]
  quiet_hours {
    from = "21:00"
    to   = "06:00"
  }
}
route "default" {
  default    = true
  candidates = ["a"]
}
`)
	if err != nil {
		t.Fatal(err)
	}
	e.router.Swap(cfg.Table)
	code, out := e.post(t, "/api/v1/admin/route/explain", e.admin, `{"to":"+959791234567","text":"x","kind":"marketing","at":"2026-12-07T21:50+06:30"}`)
	hold, _ := out["hold"].(map[string]any)
	if code != http.StatusOK || hold["reason"] != "held for quiet hours until 06:00 Asia/Yangon" || hold["until"] != "2026-12-08T06:00:00+06:30" {
		t.Errorf("HTTP %d, hold %v; want held until 06:00 the next morning", code, out["hold"])
	}
	if _, out := e.post(t, "/api/v1/admin/route/explain", e.admin, `{"to":"+959791234567","text":"x","kind":"marketing","at":"2026-12-07T12:00+06:30"}`); out["hold"] != nil {
		t.Errorf("at noon: hold %v, want none", out["hold"])
	}
}
