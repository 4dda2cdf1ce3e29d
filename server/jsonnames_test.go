package server_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

// outboxPlugins is a Plugins whose one provider keeps an outbox.
type outboxPlugins struct{}

func (outboxPlugins) Names() []string { return []string{"fast"} }

func (outboxPlugins) SenderIDs(context.Context, string) ([]provider.SenderID, error) { return nil, nil }

func (outboxPlugins) Outbox(_ context.Context, name string, _ int) ([]provider.OutboxMessage, error) {
	if name != "fast" {
		return nil, pluginhost.ErrUnknownProvider
	}
	return []provider.OutboxMessage{{MessageID: "msg_1", ProviderMessageID: "sbx-1", To: "+959123456789", From: "SANDBOX",
		Text: "hi", Kind: "sms", Segments: 1, SentAt: time.Now()}}, nil
}

// upperKeys returns the object keys in v, at any depth, that have an
// upper-case letter.
func upperKeys(v any, path string) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.IndexFunc(k, unicode.IsUpper) >= 0 {
				out = append(out, path+"."+k)
			}
			out = append(out, upperKeys(x, path+"."+k)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, upperKeys(x, path+"[]")...)
		}
	}
	return out
}

// TestAdminAnswersAreSnakeCase: every admin endpoint's answer names its
// fields in snake_case, down to what it embeds from other packages
// (provider balances and capabilities were once "Amount", "MaxBatchSize").
func TestAdminAnswersAreSnakeCase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		cfg, err := config.Parse([]byte(apiConfig), "api.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
		if err != nil {
			t.Fatal(err)
		}
		router := routing.NewRouter(cfg.Table, nil)
		svc := core.NewService(st, router, nil, core.Options{API: &cfg.API})
		at := time.Now()
		var refuse atomic.Bool
		ts := httptest.NewServer(server.New(server.Options{Messages: svc, Keys: st, Accounts: svc, API: &cfg.API,
			Table: router.Table, Routes: router, Plugins: outboxPlugins{},
			Providers: fixedStates{{Name: "fast", Plugin: "sandbox", State: pluginhost.StateRunning, PID: 42, Healthy: true,
				HealthDetail: "ok", Balance: &provider.Balance{Amount: 12.5, Currency: "USD"}, BalanceAt: &at,
				Capabilities: provider.Features{Plugin: "sandbox", Version: "1", MaxBatchSize: 10, Balance: true, Outbox: true}}},
			ProviderLimits: func() map[string]config.Limits { return map[string]config.Limits{"fast": {TPS: 5}} },
			Reload: func(context.Context) error {
				if refuse.Load() {
					return errors.New("reload refused:\nroutes.hcl:3: unknown provider")
				}
				return nil
			}}))
		t.Cleanup(ts.Close)
		acc, err := st.CreateAccount(ctx, "ops")
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := st.CreateAPIKey(ctx, acc.ID, "admin", []string{account.PermSystemAdmin})
		if err != nil {
			t.Fatal(err)
		}
		_, spare, err := st.CreateAPIKey(ctx, acc.ID, "spare", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		e := &apiEnv{url: ts.URL, keys: map[string]string{"admin": raw}}
		for _, tc := range []struct {
			name, method, path, body string
			code                     int
		}{
			{"providers", "GET", "/api/v1/admin/providers", "", 200},
			{"outbox", "GET", "/api/v1/admin/providers/fast/outbox", "", 200},
			{"keys", "GET", "/api/v1/admin/keys", "", 200},
			{"create key", "POST", "/api/v1/admin/keys", `{"name":"app","permissions":["send_sms","verify_otp"],"account":"shop"}`, 201},
			{"bad key", "POST", "/api/v1/admin/keys", `{"name":"app","permissions":["fly"]}`, 422},
			{"explain", "POST", "/api/v1/admin/route/explain", `{"to":"+959123456789","text":"hello"}`, 200},
			{"reload", "POST", "/api/v1/admin/reload", "", 200},
			{"refused reload", "POST", "/api/v1/admin/reload", "", 422},
			{"credit", "POST", "/api/v1/admin/accounts/" + acc.ID + "/credit", `{"amount":5,"reason":"top-up"}`, 200},
			{"account", "PATCH", "/api/v1/admin/accounts/" + acc.ID, `{"message_bodies":"none"}`, 200},
			{"revoke", "DELETE", "/api/v1/admin/keys/" + spare.ID, "", 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refuse.Store(tc.name == "refused reload")
				a := e.call(t, tc.method, tc.path, "admin", tc.body)
				if a.code != tc.code {
					t.Fatalf("HTTP %d, want %d: %s", a.code, tc.code, a.raw)
				}
				if bad := upperKeys(a.body, ""); len(bad) > 0 {
					t.Errorf("keys with upper-case letters %v in %s", bad, a.raw)
				}
			})
		}
		a := e.call(t, "GET", "/api/v1/admin/providers", "admin", "")
		for _, want := range []string{`"balance":{"amount":12.5,"currency":"USD"}`, `"max_batch_size":10`, `"limits":{"tps":5,"concurrency":null}`} {
			if !strings.Contains(a.raw, want) {
				t.Errorf("providers: %s, want %s", a.raw, want)
			}
		}
		a = e.call(t, "GET", "/api/v1/admin/keys?account_id="+acc.ID, "admin", "")
		if keys, _ := a.body["keys"].([]any); len(keys) != 2 || !strings.Contains(a.raw, `"permissions":["system_admin"]`) {
			t.Errorf("keys: %s, want both keys with their permissions as lists", a.raw)
		}
	})
}
