package server_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

const labelRoutes = `
provider "bulk" {
  plugin = "sandbox"
}
provider "vip" {
  plugin = "sandbox"
}
provider "std" {
  plugin = "sandbox"
}
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["bulk"]
}
route "gold" {
  match      = "tags.tier == 'gold'"
  candidates = ["vip"]
}
route "default" {
  default    = true
  candidates = ["std"]
}
`

// TestKindAndTagsReachRouting: the kind and tags an application sends on
// /sms/send and /sms/bulk reach the rules written on them; values outside
// their bounds are refused with 422 naming them.
func TestKindAndTagsReachRouting(t *testing.T) {
	cfg, err := config.Parse([]byte(labelRoutes), "labels.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		svc := core.NewService(st, routing.NewRouter(cfg.Table, nil), nil, core.Options{})
		ts := httptest.NewServer(server.New(server.Options{Messages: svc, Keys: st}))
		t.Cleanup(ts.Close)
		acc, err := st.CreateAccount(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := st.CreateAPIKey(t.Context(), acc.ID, "sender", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		e := &apiEnv{url: ts.URL, st: st, acc: acc.ID, keys: map[string]string{"sms": raw}}
		routed := []struct {
			name, path, body, route string
		}{
			{"marketing send", "/api/v1/sms/send", `{"to":"+959123456789","message":"sale","kind":"marketing"}`, "marketing"},
			{"marketing bulk", "/api/v1/sms/bulk", `{"to":["+959123456789"],"message":"sale 2","kind":"marketing"}`, "marketing"},
			{"gold tag send", "/api/v1/sms/send", `{"to":"+959123456789","message":"hi gold","tags":{"tier":"gold"}}`, "gold"},
			{"gold tag bulk", "/api/v1/sms/bulk", `{"to":["+959123456789"],"message":"hi gold 2","kind":"transactional","tags":{"tier":"gold","campaign":"x"}}`, "gold"},
			{"other tag", "/api/v1/sms/send", `{"to":"+959123456789","message":"hi silver","tags":{"tier":"silver"}}`, "default"},
			{"plain", "/api/v1/sms/send", `{"to":"+959123456789","message":"plain"}`, "default"},
		}
		for _, c := range routed {
			t.Run(c.name, func(t *testing.T) {
				a := e.call(t, "POST", c.path, "sms", c.body)
				if a.code != 202 {
					t.Fatalf("HTTP %d %s", a.code, a.raw)
				}
				id, _ := a.body["message_id"].(string)
				if results, ok := a.body["results"].([]any); ok && len(results) == 1 {
					id, _ = results[0].(map[string]any)["message_id"].(string)
				}
				m, err := st.GetMessage(t.Context(), acc.ID, id)
				if err != nil {
					t.Fatal(err)
				}
				if m.Route != c.route {
					t.Errorf("routed by %q, want %q", m.Route, c.route)
				}
			})
		}
		many := make([]string, core.MaxTags+1)
		for i := range many {
			many[i] = fmt.Sprintf(`"t%d":"v"`, i)
		}
		refused := []struct{ name, body, err string }{
			{"unknown kind", `{"to":"+959123456789","message":"x","kind":"promo"}`, `kind "promo" is not a kind of message; use one of sms, otp, transactional, marketing`},
			{"too many tags", `{"to":"+959123456789","message":"x","tags":{` + strings.Join(many, ",") + `}}`, "tags has 11 entries; the limit is 10"},
			{"tag name with a space", `{"to":"+959123456789","message":"x","tags":{"a b":"v"}}`, `tag name "a b" must be 1 to 32 ASCII letters`},
			{"long tag name", `{"to":"+959123456789","message":"x","tags":{"` + strings.Repeat("n", 33) + `":"v"}}`, "must be 1 to 32"},
			{"long tag value", `{"to":"+959123456789","message":"x","tags":{"a":"` + strings.Repeat("v", 129) + `"}}`, "tags.a is 129 characters long; the limit is 128"},
			{"control character in a tag", `{"to":"+959123456789","message":"x","tags":{"a":"line\nbreak"}}`, "tags.a contains a control character"},
			{"tag that is not a string", `{"to":"+959123456789","message":"x","tags":{"a":1}}`, "every value of tags must be a string"},
			{"unknown kind in bulk", `{"to":["+959123456789"],"message":"x","kind":"Marketing"}`, `kind "Marketing" is not a kind`},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				path := "/api/v1/sms/send"
				if strings.HasPrefix(c.body, `{"to":[`) {
					path = "/api/v1/sms/bulk"
				}
				a := e.call(t, "POST", path, "sms", c.body)
				if a.code != 422 || !strings.Contains(fmt.Sprint(a.body["error"]), c.err) {
					t.Fatalf("HTTP %d %s, want 422 with %q", a.code, a.raw, c.err)
				}
			})
		}
	})
}
