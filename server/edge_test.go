package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/server"
)

// TestBadInputAtTheEdge drives text the database cannot store, and other
// malformed input, through every place a request carries it: each gets
// the same clear 4xx on both drivers, never a 500.
func TestBadInputAtTheEdge(t *testing.T) {
	type edgeCase struct {
		name, method, path, key, body string
		hdr                           []string
		code                          int
		err                           string
	}
	longName := strings.Repeat("n", 129)
	cases := []edgeCase{
		// NUL and invalid UTF-8 in path ids.
		{"NUL in a status id", "GET", "/api/v1/sms/status/%00", "admin", "", nil, 422, "message_id in the path contains a NUL"},
		{"invalid UTF-8 in a status id", "GET", "/api/v1/sms/status/msg_%ff", "admin", "", nil, 422, "message_id in the path is not valid UTF-8"},
		{"NUL in a cancelled id", "DELETE", "/api/v1/sms/msg_%00", "admin", "", nil, 422, "message_id in the path contains a NUL"},
		{"NUL in an inbound id", "GET", "/api/v1/sms/inbound/in_%00", "admin", "", nil, 422, "id in the path contains a NUL"},
		{"NUL in a revoked key id", "DELETE", "/api/v1/admin/keys/key_%00", "admin", "", nil, 422, "id in the path contains a NUL"},
		{"invalid UTF-8 in a credited account", "POST", "/api/v1/admin/accounts/acc_%ff/credit", "admin", `{"amount":1}`, nil, 422, "id in the path is not valid UTF-8"},
		// ... in query parameters.
		{"invalid UTF-8 in status", "GET", "/api/v1/sms/messages?status=%ff", "admin", "", nil, 422, "query parameter status is not valid UTF-8"},
		{"NUL in a list cursor", "GET", "/api/v1/sms/messages?cursor=%00", "admin", "", nil, 422, "query parameter cursor contains a NUL"},
		{"NUL in inbound from", "GET", "/api/v1/sms/inbound?from=%00", "admin", "", nil, 422, "query parameter from contains a NUL"},
		{"invalid UTF-8 in inbound to", "GET", "/api/v1/sms/inbound?to=%c3", "admin", "", nil, 422, "query parameter to is not valid UTF-8"},
		{"NUL in admin account_id", "GET", "/api/v1/admin/keys?account_id=acc_%00", "admin", "", nil, 422, "query parameter account_id contains a NUL"},
		{"invalid UTF-8 in a ledger cursor", "GET", "/api/v1/ledger?cursor=%fe", "admin", "", nil, 422, "query parameter cursor is not valid UTF-8"},
		// ... in a header.
		{"non-UTF-8 Idempotency-Key", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"idem"}`,
			[]string{"Idempotency-Key", "key-\xff\xfe"}, 422, "Idempotency-Key is not valid UTF-8"},
		// ... in JSON bodies, as sent: decoding would turn them into U+FFFD.
		{"NUL in a message", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"a\u0000b"}`, nil, 422, "message contains a NUL"},
		{"NUL in from", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x","from":"A\u0000"}`, nil, 422, "from contains a NUL"},
		{"raw invalid UTF-8 in a message", "POST", "/api/v1/sms/send", "admin", "{\"to\":\"+959123456789\",\"message\":\"caf\xe9\"}", nil, 422, "message is not valid UTF-8"},
		{"lone surrogate in a message", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x\ud800y"}`, nil, 422, "message contains a lone UTF-16 surrogate (\\ud800)"},
		{"lone low surrogate in bulk", "POST", "/api/v1/sms/bulk", "admin", `{"to":["+959123456789"],"message":"\udc00"}`, nil, 422, "message contains a lone UTF-16 surrogate"},
		{"NUL in a bulk recipient", "POST", "/api/v1/sms/bulk", "admin", `{"to":["+959123456789","+95\u0000"],"message":"hi"}`, nil, 422, "to contains a NUL"},
		{"NUL in a batch-status id", "POST", "/api/v1/sms/status", "admin", `{"ids":["msg_\u0000"]}`, nil, 422, "ids contains a NUL"},
		{"invalid UTF-8 in a batch-status id", "POST", "/api/v1/sms/status", "admin", "{\"ids\":[\"msg_\xff\"]}", nil, 422, "ids is not valid UTF-8"},
		{"NUL in a key name", "POST", "/api/v1/admin/keys", "admin", `{"name":"k\u0000","permissions":["send_sms"]}`, nil, 422, "name contains a NUL"},
		{"NUL in an account name", "POST", "/api/v1/admin/keys", "admin", `{"name":"k","account":"\u0000","permissions":["send_sms"]}`, nil, 422, "account contains a NUL"},
		{"NUL in a tag", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x","tags":{"campaign":"\u0000"}}`, nil, 422, "tags.campaign contains a NUL"},
		{"NUL in a field name", "POST", "/api/v1/sms/send", "admin", `{"to\u0000":"+959123456789","message":"x"}`, nil, 422, "a field name in the request body contains a NUL"},
		{"surrogate pair is fine", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"smile \ud83d\ude00"}`, nil, 202, ""},
		// Lengths the columns cannot hold: refused on SQLite too.
		{"key name over 128 characters", "POST", "/api/v1/admin/keys", "admin", `{"name":"` + longName + `","permissions":["send_sms"]}`, nil, 422, "name is 129 characters long; the limit is 128"},
		{"account name over 128 characters", "POST", "/api/v1/admin/keys", "admin", `{"name":"k","account":"` + longName + `","permissions":["send_sms"]}`, nil, 422, "account is 129 characters long; the limit is 128"},
		{"key name of 128 characters", "POST", "/api/v1/admin/keys", "admin", `{"name":"` + longName[1:] + `","permissions":["send_sms"]}`, nil, 201, ""},
		// Item 9's findings.
		{"ledger cursor beyond bigint", "GET", "/api/v1/ledger?cursor=9223372036854775808", "admin", "", nil, 422, "cursor is not one this API returned"},
		{"negative ledger cursor", "GET", "/api/v1/ledger?cursor=-5", "admin", "", nil, 422, "cursor is not one this API returned"},
		{"unknown status filter", "GET", "/api/v1/sms/messages?status=bogus", "admin", "", nil, 422,
			`status "bogus" is not a message status; use one of queued, pending, sent, delivered, failed, expired, rejected, undeliverable, unknown`},
		{"known status filter", "GET", "/api/v1/sms/messages?status=failed", "admin", "", nil, 200, ""},
		{"unknown path under sms", "GET", "/api/v1/sms/nope", "admin", "", nil, 404, "no such endpoint: GET /api/v1/sms/nope"},
		{"typo of send", "POST", "/api/v1/sms/sendd", "admin", `{}`, nil, 404, "no such endpoint: POST /api/v1/sms/sendd"},
		{"deeper unknown path", "PUT", "/api/v1/sms/status/msg_1", "admin", "", nil, 404, "no such endpoint"},
		{"wrong method on a real path", "GET", "/api/v1/sms/send", "admin", "", nil, 405, "method GET is not allowed on /api/v1/sms/send; it takes POST"},
		{"whitespace-only message", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":" \n\t "}`, nil, 422, "message is required"},
		{"oversized headers", "GET", "/api/v1/balance", "admin", "", []string{"X-Padding", strings.Repeat("p", 70<<10)}, 431, "request header fields are"},
		{"credit with 7 decimals", "POST", "/api/v1/admin/accounts/{acc}/credit", "admin", `{"amount":1.1234567}`, nil, 422, "amount: "},
		{"credit with a word", "POST", "/api/v1/admin/accounts/{acc}/credit", "admin", `{"amount":"lots"}`, nil, 422, "amount"},
		{"two JSON values", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x"}{}`, nil, 422, "not valid JSON"},
		{"not an object", "POST", "/api/v1/sms/send", "admin", `["x"]`, nil, 422, "must be a JSON object"},
		{"validity not a number", "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x","validity":"1h"}`, nil, 422, "validity must be a whole number"},
		{"an id that is not a string", "POST", "/api/v1/sms/status", "admin", `{"ids":[1]}`, nil, 422, "every entry of ids must be a string"},
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := e.call(t, c.method, strings.ReplaceAll(c.path, "{acc}", e.acc), c.key, c.body, c.hdr...)
				if a.code != c.code || !strings.Contains(fmt.Sprint(a.body["error"]), c.err) {
					t.Fatalf("HTTP %d %s, want %d with %q", a.code, a.raw, c.code, c.err)
				}
			})
		}
	})
}

// TestBearerSchemeIsCaseInsensitive: RFC 7235 makes the scheme
// case-insensitive, so clients sending "bearer" are served.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	e := newAPI(t, storetest.Open(t, store.DriverSQLite))[0]
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		a := e.call(t, "GET", "/api/v1/balance", "", "", "Authorization", scheme+" "+e.keys["admin"])
		if a.code != 200 {
			t.Errorf("%s: HTTP %d %s", scheme, a.code, a.raw)
		}
	}
	if a := e.call(t, "GET", "/api/v1/balance", "", "", "Authorization", "Basic "+e.keys["admin"]); a.code != 401 {
		t.Errorf("Basic: HTTP %d %s", a.code, a.raw)
	}
}

// TestPoisonedSendsFailAlone: while one account sends texts the database
// cannot store, another account's valid sends, batched with them, are all
// accepted; the poisoned ones get 422.
func TestPoisonedSendsFailAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newBatchedAPI(t, st)
		other := e.otherAccountKey(t, "globex")
		const valid, poisoned = 60, 30
		codes := make(chan string, valid+poisoned)
		var wg sync.WaitGroup
		for i := range valid {
			wg.Go(func() {
				a := e.call(t, "POST", "/api/v1/sms/send", "", fmt.Sprintf(`{"to":"+959123456789","message":"valid %d"}`, i), "Authorization", "Bearer "+other)
				codes <- fmt.Sprintf("valid %d", a.code)
			})
		}
		for i := range poisoned {
			body := fmt.Sprintf(`{"to":"+959123456789","message":"nul %d \u0000"}`, i)
			if i%2 == 1 {
				body = fmt.Sprintf(`{"to":"+959123456789","message":"x %d","from":"\u0000"}`, i)
			}
			wg.Go(func() {
				a := e.call(t, "POST", "/api/v1/sms/send", "admin", body)
				codes <- fmt.Sprintf("poisoned %d", a.code)
			})
		}
		wg.Wait()
		close(codes)
		got := map[string]int{}
		for c := range codes {
			got[c]++
		}
		if got["valid 202"] != valid || got["poisoned 422"] != poisoned {
			t.Fatalf("answers %v; want all %d valid sends 202 and all %d poisoned 422", got, valid, poisoned)
		}
	})
}

// otherAccountKey creates another account with a sending key of its own and
// returns the raw key.
func (e *apiEnv) otherAccountKey(t *testing.T, name string) string {
	t.Helper()
	ctx := t.Context()
	acc, err := e.st.CreateAccount(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	raw, key, err := e.st.CreateAPIKey(ctx, acc.ID, name, []string{account.PermSendSMS})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetAPIKeySMSPerMinute(ctx, key.ID, 1000); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestDocumentedFieldsAreAccepted: every request body field the OpenAPI
// document lists is one its endpoint takes, now that unknown fields are
// refused.
func TestDocumentedFieldsAreAccepted(t *testing.T) {
	type operation struct {
		RequestBody *struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]struct {
						Type string `json:"type"`
					} `json:"properties"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(server.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	example := map[string]string{"string": `"x"`, "integer": "1", "number": "1", "boolean": "false", "array": "[]", "object": "{}"}
	e := newAPI(t, storetest.Open(t, store.DriverSQLite))[0]
	checked := 0
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op operation
			if json.Unmarshal(raw, &op) != nil || op.RequestBody == nil {
				continue
			}
			for name, prop := range op.RequestBody.Content["application/json"].Schema.Properties {
				body := fmt.Sprintf(`{%q:%s}`, name, example[prop.Type])
				url := strings.NewReplacer("{id}", e.acc, "{message_id}", "msg_x").Replace(path)
				a := e.call(t, strings.ToUpper(method), url, "admin", body)
				if strings.Contains(fmt.Sprint(a.body["error"]), "unknown field") {
					t.Errorf("%s %s refuses its documented field %s: %s", method, path, name, a.raw)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked only %d documented fields", checked)
	}
	if a := e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"x","mesage":"typo"}`); a.code != 422 ||
		!strings.Contains(fmt.Sprint(a.body["error"]), `unknown field "mesage"; this endpoint takes to, message, from, callback_url, kind, tags, send_at, validity`) {
		t.Errorf("a misspelt field: HTTP %d %s", a.code, a.raw)
	}
}
