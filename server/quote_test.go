package server_test

import (
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// A quote prices a send's or a bulk's body as the send would be routed,
// says which characters force UCS-2 and whether the balance covers it,
// and stores, sends and counts nothing.
func TestQuote(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		tests := []struct {
			name, key, body string
			code            int
			want            string // the whole body, or a part of it for errors
		}{
			{"send body", "sms", `{"to":"+959971234567","message":"Hello"}`, 200,
				`{"encoding":"gsm7","segments":1,"ucs2_characters":[],"recipients":[{"to":"+959971234567","country":"MM","operator":"Ooredoo","route":"default","provider":"fast","price":0.015}],"total":0.015,"currency":"USD","balance":0,"covered":true}`},
			{"bulk body, UCS-2, two segments", "sms", `{"to":["+66812345678","+959971234567","12"],"message":"` + strings.Repeat("“ok” ", 15) + `"}`, 200,
				`{"encoding":"ucs2","segments":2,"ucs2_characters":["“","”"],"recipients":[{"to":"+66812345678","country":"TH","operator":"True Move","route":"default","provider":"fast","price":0.06},{"to":"+959971234567","country":"MM","operator":"Ooredoo","route":"default","provider":"fast","price":0.03},{"to":"12","error":"Invalid phone number format"}],"total":0.09,"currency":"USD","balance":0,"covered":true}`},
			{"sender not allowed", "sms", `{"to":"+66812345678","message":"Hi","from":"Other"}`, 422, `sender \"Other\" is not allowed`},
			{"no message", "sms", `{"to":"+66812345678"}`, 422, `message is required`},
			{"no recipient", "sms", `{"message":"Hi"}`, 422, `to is required`},
			{"to of the wrong type", "sms", `{"to":5,"message":"Hi"}`, 422, `to`},
			{"unknown field", "sms", `{"to":"+66812345678","message":"Hi","price":1}`, 422, `price`},
			{"key without send_sms", "read", `{"to":"+66812345678","message":"Hi"}`, 403, `send_sms`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := e.call(t, "POST", "/api/v1/sms/quote", tc.key, tc.body)
				if a.code != tc.code {
					t.Fatalf("HTTP %d %s, want %d", a.code, a.raw, tc.code)
				}
				if tc.code == 200 && a.raw != tc.want || tc.code != 200 && !strings.Contains(a.raw, tc.want) {
					t.Errorf("answer %s\nwant %s", a.raw, tc.want)
				}
			})
		}

		// The sms key may send 5 a minute: quotes take none of them, and
		// leave no message and no charge behind.
		for range 6 {
			if a := e.call(t, "POST", "/api/v1/sms/quote", "sms", `{"to":"+66812345678","message":"Hi"}`); a.code != 200 {
				t.Fatalf("quote: HTTP %d %s", a.code, a.raw)
			}
		}
		if a := e.call(t, "GET", "/api/v1/sms/messages", "sms", ""); a.code != 200 || !strings.Contains(a.raw, `"messages":[]`) {
			t.Errorf("messages after quotes: HTTP %d %s, want none", a.code, a.raw)
		}
		if a := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+66812345678","message":"Hi"}`); a.code != 202 {
			t.Errorf("send after six quotes: HTTP %d %s, want 202 (quotes must not count against the rate limit)", a.code, a.raw)
		}
	})
}

// A prepaid account whose balance does not cover a quote hears so, with
// the limit; the quote itself is still answered.
func TestQuoteNotCovered(t *testing.T) {
	zero := money.Amount(0)
	storetest.EachWith(t, store.Options{Billing: store.Billing{CreditLimit: &zero}}, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		a := e.call(t, "POST", "/api/v1/sms/quote", "sms", `{"to":"+66812345678","message":"Hi"}`)
		if a.code != 200 || a.body["covered"] != false || a.body["credit_limit"] != 0.0 || a.body["total"] != 0.03 {
			t.Fatalf("HTTP %d %s, want covered false with credit_limit 0 and total 0.03", a.code, a.raw)
		}
	})
}
