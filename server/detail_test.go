package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// GET /api/v1/sms/{id} shows a message in full to its account, and to a
// system admin of any account; another account's key gets 404, as for a
// message that does not exist.
func TestMessageDetail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		a := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+959971234567","message":"Hello “there”","kind":"transactional"}`)
		if a.code != 202 {
			t.Fatalf("send: HTTP %d %s", a.code, a.raw)
		}
		id, _ := a.body["message_id"].(string)
		if a := e.call(t, "DELETE", "/api/v1/sms/"+id, "sms", ""); a.code != 200 {
			t.Fatalf("cancel: HTTP %d %s", a.code, a.raw)
		}

		a = e.call(t, "GET", "/api/v1/sms/"+id, "sms", "")
		if a.code != 200 {
			t.Fatalf("detail: HTTP %d %s", a.code, a.raw)
		}
		for _, want := range []string{
			`"message_id":"` + id + `"`, `"status":"failed"`, `"to":"+959971234567"`, `"text":"Hello “there”"`,
			`"kind":"transactional"`, `"encoding":"ucs2"`, `"segments":1`, `"country":"MM"`, `"price":0.015`,
			`"currency":"USD"`, `"route":"default"`, `"plan":[{"provider":"fast","current":true},{"provider":"cheap"}]`,
			`"error_code":"CANCELLED"`, `"history":[{"status":"failed","at":"`, `"webhooks":[]`,
			`"why":{"route":"default","strategy":"failover","candidates":[{"provider":"fast","kept":true},{"provider":"cheap","kept":true}]}`,
		} {
			if !strings.Contains(a.raw, want) {
				t.Errorf("detail lacks %s:\n%s", want, a.raw)
			}
		}
		// A message accepted before decisions were kept has none to show.
		if err := st.DB().Exec("UPDATE messages SET why = '' WHERE id = ?", id).Error; err != nil {
			t.Fatal(err)
		}
		if a := e.call(t, "GET", "/api/v1/sms/"+id, "sms", ""); !strings.Contains(a.raw, `"why":null`) {
			t.Errorf("detail of a message without a kept decision: %s, want why null", a.raw)
		}

		for perm, raw := range otherAccountKeys(t, st) {
			e.keys["other-"+perm] = raw
		}
		if a := e.call(t, "GET", "/api/v1/sms/"+id, "other-"+account.PermSendSMS, ""); a.code != 404 {
			t.Errorf("another account's key: HTTP %d %s, want 404", a.code, a.raw)
		}
		if a := e.call(t, "GET", "/api/v1/sms/"+id, "other-"+account.PermSystemAdmin, ""); a.code != 200 || !strings.Contains(a.raw, `"account_id":"`+e.acc+`"`) {
			t.Errorf("a system admin of another account: HTTP %d %s, want 200 with the message's account", a.code, a.raw)
		}
		if a := e.call(t, "GET", "/api/v1/sms/msg_nope", "sms", ""); a.code != 404 || a.raw != `{"error":"Message not found"}` {
			t.Errorf("unknown id: HTTP %d %s", a.code, a.raw)
		}
	})
}

// otherAccountKeys makes a second account with a send key and a system
// admin key, by permission.
func otherAccountKeys(t *testing.T, st *store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	acc, err := st.CreateAccount(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, perm := range []string{account.PermSendSMS, account.PermSystemAdmin} {
		raw, _, err := st.CreateAPIKey(ctx, acc.ID, "other-"+perm, []string{perm})
		if err != nil {
			t.Fatal(err)
		}
		out[perm] = raw
	}
	return out
}

// A message whose stored text this server cannot open (sealed for another
// row, or with a key no longer in the ring) still shows everything else,
// marked text_unreadable, instead of failing with 500.
func TestMessageDetailWithUnreadableText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		var ids []string
		for _, text := range []string{"first", "second"} {
			a := e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959971234567","message":"`+text+`"}`)
			if a.code != 202 {
				t.Fatalf("send: HTTP %d %s", a.code, a.raw)
			}
			ids = append(ids, a.body["message_id"].(string))
		}
		// The second row gets the first's sealed text, which is bound to the
		// first row's id and so cannot be opened as the second's.
		if err := st.DB().Exec("UPDATE messages SET text = (SELECT text FROM messages WHERE id = ?) WHERE id = ?", ids[0], ids[1]).Error; err != nil {
			t.Fatal(err)
		}
		a := e.call(t, "GET", "/api/v1/sms/"+ids[1], "admin", "")
		if a.code != 200 || a.body["text_unreadable"] != true || a.body["text"] != "" || a.body["status"] != "queued" {
			t.Fatalf("detail: HTTP %d %s, want 200 with text_unreadable and the rest", a.code, a.raw)
		}
	})
}
