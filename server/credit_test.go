package server_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// A prepaid account (credit limit 0) is refused with 402 when a send costs
// more than its balance, tops up through the admin endpoint, and sees its
// charges in the ledger. TH costs 0.03 at the first candidate, "fast".
func TestCreditEndpoints(t *testing.T) {
	prepaid := money.Amount(0)
	storetest.EachWith(t, store.Options{Billing: store.Billing{CreditLimit: &prepaid}}, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		const th = `{"to":"+66812345678","message":"Hello"}`
		if a := e.call(t, "GET", "/api/v1/balance", "read", ""); a.code != 200 || a.raw != `{"balance":0,"credit_limit":0,"currency":"USD"}` {
			t.Fatalf("balance: HTTP %d %s", a.code, a.raw)
		}

		a := e.call(t, "POST", "/api/v1/sms/send", "admin", th, "Idempotency-Key", "order-1")
		want := `{"balance":0,"code":"insufficient_credit","currency":"USD","error":"Insufficient credit: this message costs 0.03 USD and the balance is 0 USD; top up the account or send fewer messages","needed":0.03}`
		if a.code != 402 || a.raw != want {
			t.Fatalf("send without credit: HTTP %d %s\nwant %s", a.code, a.raw, want)
		}

		credit := "/api/v1/admin/accounts/" + e.acc + "/credit"
		for _, tc := range []struct {
			key, path, body string
			code            int
		}{
			{"sms", credit, `{"amount":1}`, 403},
			{"admin", "/api/v1/admin/accounts/acc_nope/credit", `{"amount":1}`, 404},
			{"admin", credit, `{"amount":0}`, 422},
			{"admin", credit, `{"reason":"no amount"}`, 422},
			{"admin", credit, `{"amount":0.0000001}`, 422},
		} {
			if a := e.call(t, "POST", tc.path, tc.key, tc.body); a.code != tc.code {
				t.Errorf("%s %s with %s: HTTP %d %s, want %d", tc.key, tc.path, tc.body, a.code, a.raw, tc.code)
			}
		}
		a = e.call(t, "POST", credit, "admin", `{"amount":0.05,"reason":"invoice 42"}`)
		if a.code != 200 || a.body["balance"] != 0.05 {
			t.Fatalf("top-up: HTTP %d %s", a.code, a.raw)
		}

		// The refused send left no idempotency record: the retry sends.
		if a := e.call(t, "POST", "/api/v1/sms/send", "admin", th, "Idempotency-Key", "order-1"); a.code != 202 {
			t.Fatalf("send after the top-up: HTTP %d %s", a.code, a.raw)
		}
		a = e.call(t, "POST", "/api/v1/sms/bulk", "admin", `{"to":["+66812345678","+66812345679"],"message":"Sale"}`)
		if a.code != 402 || a.body["needed"] != 0.06 || a.body["balance"] != 0.02 ||
			a.body["error"] != "Insufficient credit: these 2 messages cost 0.06 USD and the balance is 0.02 USD; top up the account or send fewer messages" {
			t.Fatalf("bulk beyond the balance: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "POST", "/api/v1/otp/send", "otp", `{"phone_number":"+66812345678"}`); a.code != 402 || a.body["code"] != "insufficient_credit" {
			t.Fatalf("OTP beyond the balance: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "GET", "/api/v1/balance", "read", ""); a.code != 200 || a.body["balance"] != 0.02 {
			t.Fatalf("balance after one send: HTTP %d %s", a.code, a.raw)
		}

		a = e.call(t, "GET", "/api/v1/ledger?limit=1", "read", "")
		entries, _ := a.body["entries"].([]any)
		next, _ := a.body["next_cursor"].(string)
		if a.code != 200 || len(entries) != 1 || next == "" {
			t.Fatalf("ledger page 1: HTTP %d %s", a.code, a.raw)
		}
		charge := entries[0].(map[string]any)
		if charge["kind"] != "charge" || charge["amount"] != -0.03 || charge["balance_after"] != 0.02 || charge["message_id"] == nil {
			t.Fatalf("charge entry %v", charge)
		}
		a = e.call(t, "GET", "/api/v1/ledger?limit=1&cursor="+next, "read", "")
		entries, _ = a.body["entries"].([]any)
		if a.code != 200 || len(entries) != 1 || a.body["next_cursor"] != nil {
			t.Fatalf("ledger page 2: HTTP %d %s", a.code, a.raw)
		}
		if topup := entries[0].(map[string]any); topup["kind"] != "topup" || topup["amount"] != 0.05 || topup["reason"] != "invoice 42" {
			t.Fatalf("top-up entry %v", topup)
		}
		for _, q := range []string{"limit=0", "cursor=zzz"} {
			if a := e.call(t, "GET", "/api/v1/ledger?"+q, "read", ""); a.code != 422 {
				t.Errorf("ledger with %s: HTTP %d %s, want 422", q, a.code, a.raw)
			}
		}
	})
}
