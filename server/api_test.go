package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

const apiConfig = `
provider "fast" {
  plugin = "sandbox"
  pricing {
    currency  = "USD"
    countries = { MM = 0.02, TH = 0.03 }
    operators = { "MM/Ooredoo" = 0.015 }
  }
}
provider "cheap" {
  plugin = "sandbox"
  pricing {
    default   = 0.05
    countries = { MM = 0.018 }
  }
}
route "default" {
  default    = true
  candidates = ["fast", "cheap"]
}
otp {
  length = 6
  ttl    = "300s"
}
api {
  sms_per_minute     = 5
  duplicate_window   = "2m"
  account_sender_ids = { acme = ["ACME"] }
  sender_ids         = ["Shop"]
  default_credit     = 7.5
}
`

// health is a routing.StateSource the test flips.
type health struct{ down atomic.Bool }

func (h *health) ProviderState(string) routing.ProviderState {
	return routing.ProviderState{Healthy: !h.down.Load(), SuccessRate: 1}
}

// senders is a Plugins with one provider listing senders.
type senders struct{ calls atomic.Int32 }

func (s *senders) Names() []string { return []string{"fast"} }

func (s *senders) SenderIDs(context.Context, string) ([]provider.SenderID, error) {
	s.calls.Add(1)
	return []provider.SenderID{{Value: "FASTCO", Kind: "alphanumeric"}}, nil
}

func (s *senders) Outbox(_ context.Context, name string, _ int) ([]provider.OutboxMessage, error) {
	return nil, &pluginhost.UnsupportedError{Provider: name, Plugin: "fast", What: "keeps no outbox"}
}

type apiEnv struct {
	url    string
	st     *store.Store
	health *health
	acc    string
	keys   map[string]string // name → raw key
}

// newAPI starts the whole API (as serve wires it, without plugins: nothing
// dispatches) on stores sharing one database, one server per store, the
// way several processes share PostgreSQL.
func newAPI(t *testing.T, stores ...*store.Store) []*apiEnv {
	t.Helper()
	return newAPIWith(t, nil, stores...)
}

// newAPIWith is newAPI with webhook URLs allowed where allowed says (nil:
// public addresses only).
func newAPIWith(t *testing.T, allowed *egress.Policy, stores ...*store.Store) []*apiEnv {
	t.Helper()
	return newAPIAccepting(t, allowed, nil, stores...)
}

// newBatchedAPI is newAPI on one store whose acceptances share commits, as
// serve runs them.
func newBatchedAPI(t *testing.T, st *store.Store) *apiEnv {
	t.Helper()
	b := store.NewBatcher(st, store.BatcherOptions{})
	t.Cleanup(b.Close)
	return newAPIAccepting(t, nil, b, st)[0]
}

// newAPIAccepting is newAPIWith with an Accepter (nil: the store).
func newAPIAccepting(t *testing.T, allowed *egress.Policy, accepter core.Accepter, stores ...*store.Store) []*apiEnv {
	t.Helper()
	cfg, err := config.Parse([]byte(apiConfig), "api.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &health{}
	var out []*apiEnv
	for _, st := range stores {
		router := routing.NewRouter(cfg.Table, h)
		svc := core.NewService(st, router, nil, core.Options{API: &cfg.API, OTP: &cfg.OTP, State: h, Egress: allowed, Accepter: accepter,
			Webhooks: webhook.New(nil, webhook.Options{Egress: allowed})})
		ts := httptest.NewServer(server.New(server.Options{Messages: svc, Keys: st, OTP: svc, Accounts: svc, API: &cfg.API,
			Table: router.Table, Plugins: &senders{}, Egress: allowed, WebhookTests: svc}))
		t.Cleanup(ts.Close)
		out = append(out, &apiEnv{url: ts.URL, st: st, health: h, keys: map[string]string{}})
	}
	ctx := context.Background()
	st := stores[0]
	acc, err := st.CreateAccount(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for name, perms := range map[string][]string{
		"sms": {account.PermSendSMS}, "otp": {account.PermSendOTP, account.PermVerifyOTP}, "admin": {account.PermSystemAdmin},
		"read": {account.PermReceiveSMS},
	} {
		raw, key, err := st.CreateAPIKey(ctx, acc.ID, name, perms)
		if err != nil {
			t.Fatal(err)
		}
		if name == "admin" {
			// Tests of other things send through the admin key freely.
			if _, err := st.SetAPIKeySMSPerMinute(ctx, key.ID, 1000); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range out {
			e.keys[name], e.acc = raw, acc.ID
		}
	}
	return out
}

type answer struct {
	code   int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *apiEnv) call(t *testing.T, method, path, key, body string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+e.keys[key])
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
		}
	}
	return a
}

// sentCode reads the code out of the stored OTP message, as the phone
// would.
// sentCode returns the code of the account's newest OTP message as the
// provider gets it (claimed as the dispatcher does), and checks that the
// stored text shows it masked.
func sentCode(t *testing.T, st *store.Store, acc string) string {
	t.Helper()
	msgs, _, err := st.ListMessages(context.Background(), acc, store.MessageFilter{Limit: 1})
	if err != nil || len(msgs) == 0 || msgs[0].Kind != "otp" {
		t.Fatalf("no OTP message stored: %v %v", msgs, err)
	}
	if msgs[0].Text != "Your verification code is ******" {
		t.Fatalf("stored OTP text %q, want the code masked", msgs[0].Text)
	}
	claimed, err := st.ClaimDue(context.Background(), time.Now().Add(time.Second), 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range claimed {
		if m.ID == msgs[0].ID {
			code := regexp.MustCompile(`\d{6}`).FindString(m.Text)
			if m.Text != "Your verification code is "+code {
				t.Fatalf("OTP text for the provider %q", m.Text)
			}
			return code
		}
	}
	t.Fatalf("the OTP message %s was not due", msgs[0].ID)
	return ""
}

func TestOTPGuideContract(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		envs := newAPI(t, st)
		e := envs[0]
		const phone = `{"phone_number":"+959123456789"}`
		a := e.call(t, "POST", "/api/v1/otp/send", "otp", phone)
		if a.code != 200 || a.raw != `{"expires_in":300,"message":"OTP sent successfully","success":true}` {
			t.Fatalf("otp/send: HTTP %d %s", a.code, a.raw)
		}
		first := sentCode(t, st, e.acc)
		a = e.call(t, "POST", "/api/v1/otp/send", "otp", phone)
		if a.code != 200 {
			t.Fatalf("second otp/send: HTTP %d %s", a.code, a.raw)
		}
		second := sentCode(t, st, e.acc)
		if first != second {
			if a := e.call(t, "POST", "/api/v1/otp/verify", "otp", `{"phone_number":"+959123456789","code":"`+first+`"}`); a.code != 422 {
				t.Fatalf("a replaced code verified: HTTP %d %s", a.code, a.raw)
			}
		}
		a = e.call(t, "POST", "/api/v1/otp/verify", "otp", `{"phone_number":"+959123456789","code":"`+second+`"}`)
		if a.code != 200 || a.raw != `{"message":"OTP verified successfully","success":true}` {
			t.Fatalf("otp/verify: HTTP %d %s", a.code, a.raw)
		}
		a = e.call(t, "POST", "/api/v1/otp/verify", "otp", `{"phone_number":"+959123456789","code":"`+second+`"}`)
		if a.code != 422 || a.raw != `{"error":"Invalid or expired OTP"}` {
			t.Fatalf("reused code: HTTP %d %s, want 422 Invalid or expired OTP", a.code, a.raw)
		}

		// The third send of the hour is the last.
		if a := e.call(t, "POST", "/api/v1/otp/send", "otp", phone); a.code != 200 {
			t.Fatalf("third otp/send: HTTP %d %s", a.code, a.raw)
		}
		third := sentCode(t, st, e.acc)
		a = e.call(t, "POST", "/api/v1/otp/send", "otp", phone)
		if a.code != 429 || a.body["error"] != "Rate limit exceeded. Maximum 3 OTP per hour for this number" || a.header.Get("Retry-After") == "" {
			t.Fatalf("fourth otp/send: HTTP %d %s Retry-After %q", a.code, a.raw, a.header.Get("Retry-After"))
		}
		// Three wrong attempts spend the code.
		wrong := "000000"
		if third == wrong {
			wrong = "111111"
		}
		for range 3 {
			e.call(t, "POST", "/api/v1/otp/verify", "otp", `{"phone_number":"+959123456789","code":"`+wrong+`"}`)
		}
		if a := e.call(t, "POST", "/api/v1/otp/verify", "otp", `{"phone_number":"+959123456789","code":"`+third+`"}`); a.code != 422 {
			t.Fatalf("right code after 3 wrong attempts: HTTP %d %s", a.code, a.raw)
		}

		cases := []struct {
			name, path, key, body string
			code                  int
			err                   string
		}{
			{"send without permission", "/api/v1/otp/send", "sms", phone, 403, "lacks the send_otp permission"},
			{"verify without permission", "/api/v1/otp/verify", "sms", `{"phone_number":"+959123456789","code":"1"}`, 403, "lacks the verify_otp permission"},
			{"bad number", "/api/v1/otp/send", "otp", `{"phone_number":"12"}`, 422, "Invalid phone number format"},
			{"no number", "/api/v1/otp/send", "otp", `{}`, 422, "phone_number is required"},
			{"no code", "/api/v1/otp/verify", "otp", `{"phone_number":"+959123456789"}`, 422, "phone_number and code are required"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := e.call(t, "POST", c.path, c.key, c.body)
				if a.code != c.code || !strings.Contains(fmt.Sprint(a.body["error"]), c.err) {
					t.Fatalf("HTTP %d %s, want %d with %q", a.code, a.raw, c.code, c.err)
				}
			})
		}

		e.health.down.Store(true)
		a = e.call(t, "POST", "/api/v1/otp/send", "otp", `{"phone_number":"+66812345678"}`)
		if a.code != 503 {
			t.Fatalf("otp/send with no healthy provider: HTTP %d %s, want 503", a.code, a.raw)
		}
		// A plain send is still accepted and waits for a provider.
		if a := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+66812345678","message":"later is fine"}`); a.code != 202 {
			t.Fatalf("sms/send with no healthy provider: HTTP %d %s, want 202", a.code, a.raw)
		}
		e.health.down.Store(false)
	})
}

func TestOTPLimitHoldsAcrossServers(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		envs := newAPI(t, a, b)
		var wg sync.WaitGroup
		var ok, limited atomic.Int32
		for i := range 8 {
			e := envs[i%2]
			wg.Go(func() {
				r := e.call(t, "POST", "/api/v1/otp/send", "otp", `{"phone_number":"+959123456780"}`)
				switch r.code {
				case 200:
					ok.Add(1)
				case 429:
					limited.Add(1)
				default:
					t.Errorf("HTTP %d %s", r.code, r.raw)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 3 || limited.Load() != 5 {
			t.Fatalf("8 concurrent sends through two servers: %d sent, %d limited; want 3 and 5", ok.Load(), limited.Load())
		}
	})
}

func TestSendLimitsAndSafety(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		envs := newAPI(t, a, b)
		e := envs[0]
		// Duplicate suppression and idempotency first (they count against
		// the 5/min limit too: 4 requests below).
		body := `{"to":"+959123456789","message":"Hello from My SaaS App!"}`
		first := e.call(t, "POST", "/api/v1/sms/send", "sms", body, "Idempotency-Key", "order-1")
		if first.code != 202 {
			t.Fatalf("send: HTTP %d %s", first.code, first.raw)
		}
		replay := envs[1].call(t, "POST", "/api/v1/sms/send", "sms", body, "Idempotency-Key", "order-1")
		if replay.code != 202 || replay.raw != first.raw || replay.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: HTTP %d %s, want the original %s", replay.code, replay.raw, first.raw)
		}
		other := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+959123456789","message":"other"}`, "Idempotency-Key", "order-1")
		if other.code != 409 || other.body["code"] != "idempotency_key_reused" {
			t.Fatalf("key reused with another body: HTTP %d %s", other.code, other.raw)
		}
		dup := envs[1].call(t, "POST", "/api/v1/sms/send", "sms", body)
		if dup.code != 409 || dup.body["code"] != "duplicate_message" || dup.body["message_id"] != first.body["message_id"] {
			t.Fatalf("duplicate: HTTP %d %s", dup.code, dup.raw)
		}
		// Rate limit: 5 per minute per key, across both servers.
		codes := map[int]int{}
		var retry string
		for i := range 4 {
			r := envs[i%2].call(t, "POST", "/api/v1/sms/send", "sms", fmt.Sprintf(`{"to":"+959123456789","message":"n %d"}`, i))
			codes[r.code]++
			if r.code == 429 {
				retry = r.header.Get("Retry-After")
				if r.body["error"] != "Rate limit exceeded. Maximum 5 SMS per minute for this API key" {
					t.Errorf("429 body %s", r.raw)
				}
			}
		}
		if codes[202] != 1 || codes[429] != 3 || retry == "" {
			t.Fatalf("after 4 counted requests, 4 more gave %v (Retry-After %q); want one 202 and three 429", codes, retry)
		}
		// A per-key override lifts the limit.
		ctx := context.Background()
		keys, _ := a.ListAPIKeys(ctx, e.acc)
		for _, k := range keys {
			if k.Name == "sms" {
				if _, err := a.SetAPIKeySMSPerMinute(ctx, k.ID, 100); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+959123456789","message":"override"}`); r.code != 202 {
			t.Fatalf("with a per-key limit of 100: HTTP %d %s", r.code, r.raw)
		}
	})
}

func TestValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		envs := newAPI(t, st)
		e := envs[0]
		long := strings.Repeat("a", 10*153+1)
		cases := []struct {
			name, body, ctype string
			code              int
			err               string
		}{
			{"empty message", `{"to":"+959123456789","message":""}`, "", 422, "message is required"},
			{"eleven segments", `{"to":"+959123456789","message":"` + long + `"}`, "", 422, "the limit is 10 segments"},
			{"sender not allowed", `{"to":"+959123456789","message":"x","from":"Other"}`, "", 422, `sender "Other" is not allowed`},
			{"form body", `to=%2B959123456789&message=x`, "application/x-www-form-urlencoded", 415, "Content-Type must be application/json"},
			{"too large", `{"to":"+959123456789","message":"` + strings.Repeat("a", 1<<20) + `"}`, "", 413, "larger than 1 MiB"},
			{"impossible number", `{"to":"+1234","message":"x"}`, "", 422, "Invalid phone number format"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				var hdr []string
				if c.ctype != "" {
					hdr = []string{"Content-Type", c.ctype}
				}
				a := e.call(t, "POST", "/api/v1/sms/send", "admin", c.body, hdr...)
				if a.code != c.code || !strings.Contains(fmt.Sprint(a.body["error"]), c.err) {
					t.Fatalf("HTTP %d %s, want %d with %q", a.code, a.raw, c.code, c.err)
				}
			})
		}
		for _, from := range []string{"ACME", "Shop"} {
			if a := e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x","from":"`+from+`"}`); a.code != 202 {
				t.Errorf("allowed sender %s: HTTP %d %s", from, a.code, a.raw)
			}
		}
		if n, _ := storetest.CountByStatus(context.Background(), st); n["queued"] != 2 {
			t.Errorf("stored %v; want only the 2 accepted messages", n)
		}
	})
}

func TestBulkStatusAndList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		envs := newAPI(t, st)
		e := envs[0]
		a := e.call(t, "POST", "/api/v1/sms/bulk", "admin", `{"to":["+959123456789","12","+66812345678"],"message":"sale"}`)
		if a.code != 202 || a.body["queued"] != 2.0 || a.body["rejected"] != 1.0 {
			t.Fatalf("bulk: HTTP %d %s", a.code, a.raw)
		}
		results := a.body["results"].([]any)
		bad := results[1].(map[string]any)
		if bad["to"] != "12" || bad["status"] != "rejected" || bad["error"] != "Invalid phone number format" {
			t.Fatalf("invalid recipient result %v", bad)
		}
		var ids []string
		for _, i := range []int{0, 2} {
			r := results[i].(map[string]any)
			if r["status"] != "queued" || !strings.HasPrefix(fmt.Sprint(r["message_id"]), "msg_") {
				t.Fatalf("valid recipient result %v", r)
			}
			ids = append(ids, r["message_id"].(string))
		}
		tooMany := make([]string, 1001)
		for i := range tooMany {
			tooMany[i] = "+959123456789"
		}
		raw, _ := json.Marshal(map[string]any{"to": tooMany, "message": "x"})
		if a := e.call(t, "POST", "/api/v1/sms/bulk", "admin", string(raw)); a.code != 422 || !strings.Contains(a.raw, "limit is 1000") {
			t.Fatalf("1001 recipients: HTTP %d %s", a.code, a.raw)
		}

		a = e.call(t, "POST", "/api/v1/sms/status", "read", fmt.Sprintf(`{"ids":[%q,"msg_nope",%q]}`, ids[0], ids[1]))
		msgs, _ := a.body["messages"].([]any)
		if a.code != 200 || len(msgs) != 3 || msgs[0].(map[string]any)["status"] != "queued" ||
			msgs[1].(map[string]any)["error"] != "Message not found" {
			t.Fatalf("batch status: HTTP %d %s", a.code, a.raw)
		}

		seen := 0
		cursor := ""
		for range 5 {
			path := "/api/v1/sms/messages?limit=1"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			a = e.call(t, "GET", path, "read", "")
			if a.code != 200 {
				t.Fatalf("list: HTTP %d %s", a.code, a.raw)
			}
			seen += len(a.body["messages"].([]any))
			next, _ := a.body["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if seen != 2 {
			t.Fatalf("listed %d messages, want 2", seen)
		}
		for _, q := range []string{"limit=0", "since=yesterday", "cursor=zzz"} {
			if a := e.call(t, "GET", "/api/v1/sms/messages?"+q, "read", ""); a.code != 422 {
				t.Errorf("list with %s: HTTP %d %s, want 422", q, a.code, a.raw)
			}
		}
	})
}

func TestAccountEndpoints(t *testing.T) {
	// As serve opens it for the config's default_credit of 7.5.
	storetest.EachWith(t, store.Options{Billing: store.Billing{OpeningCredit: 7_500_000}}, func(t *testing.T, st *store.Store) {
		envs := newAPI(t, st)
		e := envs[0]
		if a := e.call(t, "GET", "/api/v1/balance", "read", ""); a.code != 200 || a.raw != `{"balance":7.5,"currency":"USD"}` {
			t.Fatalf("balance: HTTP %d %s", a.code, a.raw)
		}
		if _, err := st.AddCredit(context.Background(), e.acc, -4_250_000, "test"); err != nil {
			t.Fatal(err)
		}
		if a := e.call(t, "GET", "/api/v1/balance", "admin", ""); a.code != 200 || a.body["balance"] != 3.25 {
			t.Fatalf("balance after a change: HTTP %d %s", a.code, a.raw)
		}

		a := e.call(t, "GET", "/api/v1/sender-ids", "read", "")
		want := `{"restricted":true,"sender_ids":[{"value":"Shop","kind":"alphanumeric","source":"config"},{"value":"ACME","kind":"alphanumeric","source":"config"},{"value":"FASTCO","kind":"alphanumeric","source":"provider:fast"}]}`
		if a.code != 200 || a.raw != want {
			t.Fatalf("sender-ids: HTTP %d %s\nwant %s", a.code, a.raw, want)
		}

		// Only providers that charge the quoted price are listed: fast
		// charges 0.02 for Myanmar, not 0.018.
		a = e.call(t, "GET", "/api/v1/countries", "read", "")
		want = `{"countries":[{"country":"MM","calling_code":"+95","price_per_segment":0.018,"currency":"USD","providers":["cheap"]},` +
			`{"country":"TH","calling_code":"+66","price_per_segment":0.03,"currency":"USD","providers":["fast"]}],` +
			`"other_countries":{"country":"","price_per_segment":0.05,"currency":"USD","providers":["cheap"]}}`
		if a.code != 200 || a.raw != want {
			t.Fatalf("countries: HTTP %d %s\nwant %s", a.code, a.raw, want)
		}
		a = e.call(t, "GET", "/api/v1/operators", "read", "")
		want = `{"operators":[{"country":"MM","calling_code":"+95","operator":"Ooredoo","price_per_segment":0.015,"currency":"USD","providers":["fast"]}]}`
		if a.code != 200 || a.raw != want {
			t.Fatalf("operators: HTTP %d %s\nwant %s", a.code, a.raw, want)
		}
	})
}

func TestAdminKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		envs := newAPI(t, st)
		e := envs[0]
		if a := e.call(t, "GET", "/api/v1/admin/keys", "sms", ""); a.code != 403 || !strings.Contains(a.raw, "lacks the account_admin permission") {
			t.Fatalf("list with a send key: HTTP %d %s", a.code, a.raw)
		}
		a := e.call(t, "POST", "/api/v1/admin/keys", "admin", `{"name":"shop","permissions":["send_sms","send_otp"],"account":"shop","sms_per_minute":50}`)
		if a.code != 201 || !strings.HasPrefix(fmt.Sprint(a.body["key"]), "api_live_") {
			t.Fatalf("create: HTTP %d %s", a.code, a.raw)
		}
		created := a.body["api_key"].(map[string]any)
		if fmt.Sprint(created["permissions"]) != "[send_sms send_otp]" || created["sms_per_minute"] != 50.0 || strings.Contains(a.raw, `"hash"`) {
			t.Fatalf("created key %v", created)
		}
		e.keys["new"] = a.body["key"].(string)
		if a := e.call(t, "GET", "/api/v1/balance", "new", ""); a.code != 200 {
			t.Fatalf("the new key does not work: HTTP %d %s", a.code, a.raw)
		}
		a = e.call(t, "GET", "/api/v1/admin/keys?account_id="+fmt.Sprint(created["account_id"]), "admin", "")
		if list := a.body["keys"].([]any); a.code != 200 || len(list) != 1 {
			t.Fatalf("list: HTTP %d %s", a.code, a.raw)
		}
		for _, c := range []struct {
			body, err string
		}{
			{`{"name":"x","permissions":["fly"]}`, `unknown permission "fly"`},
			{`{"name":"x","permissions":[]}`, "no permission given"},
			{`{"name":"x","permissions":["admin"],"account_id":"acc_nope"}`, "names no account"},
			{`{"name":"x","permissions":["send_sms"],"account_id":"acc_nope","account":"acme"}`, "not both"},
		} {
			if a := e.call(t, "POST", "/api/v1/admin/keys", "admin", c.body); a.code != 422 || !strings.Contains(fmt.Sprint(a.body["error"]), c.err) {
				t.Errorf("create %s: HTTP %d %s, want 422 with %q", c.body, a.code, a.raw, c.err)
			}
		}
		if a := e.call(t, "DELETE", "/api/v1/admin/keys/"+fmt.Sprint(created["id"]), "admin", ""); a.code != 200 {
			t.Fatalf("revoke: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "GET", "/api/v1/balance", "new", ""); a.code != 401 {
			t.Fatalf("a revoked key still works: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "DELETE", "/api/v1/admin/keys/key_nope", "admin", ""); a.code != 404 {
			t.Fatalf("revoke unknown: HTTP %d %s", a.code, a.raw)
		}
	})
}

// TestEveryRouteIsDocumented fails when a route is added without its
// entry in the OpenAPI document.
func TestEveryRouteIsDocumented(t *testing.T) {
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("the OpenAPI document does not parse as OpenAPI 3: %v", err)
	}
	operations := map[string]string{}
	for path, item := range doc.Paths {
		for method, op := range item {
			o, ok := op.(map[string]any)
			if !ok {
				continue // x-any-method
			}
			id, _ := o["operationId"].(string)
			switch {
			case id == "":
				t.Errorf("%s %s has no operationId", strings.ToUpper(method), path)
			case operations[id] != "":
				t.Errorf("%s %s has operationId %q, as %s has", strings.ToUpper(method), path, id, operations[id])
			default:
				operations[id] = strings.ToUpper(method) + " " + path
			}
		}
	}
	st := storetest.Open(t, store.DriverSQLite)
	svc := core.NewService(st, routing.NewRouter(nil, nil), nil, core.Options{})
	engine, ok := server.New(server.Options{Keys: st, Accounts: svc, Routes: routing.NewRouter(nil, nil),
		Reload: func(context.Context) error { return nil }}).(*gin.Engine)
	if !ok {
		t.Fatal("server.New no longer returns a *gin.Engine; adapt this test")
	}
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	documented := map[string]bool{}
	for _, r := range engine.Routes() {
		path := param.ReplaceAllString(r.Path, "{$1}")
		item, ok := doc.Paths[path]
		if !ok {
			t.Errorf("%s %s is not in the OpenAPI document (as %s)", r.Method, r.Path, path)
			continue
		}
		documented[path] = true
		if _, ok := item[strings.ToLower(r.Method)]; !ok && item["x-any-method"] != true {
			t.Errorf("%s %s: the OpenAPI document has the path but not the method", r.Method, r.Path)
		}
	}
	for path := range doc.Paths {
		if !documented[path] {
			t.Errorf("the OpenAPI document lists %s, which is no route", path)
		}
	}
	// Served as is.
	ts := httptest.NewServer(engine)
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != string(server.OpenAPI) {
		t.Fatalf("GET /api/v1/openapi.json: HTTP %d", resp.StatusCode)
	}
}
