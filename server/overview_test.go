package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// The overview counts the last hour's messages per minute by status and
// provider, the queue and the webhook backlog: an account admin its own
// account's, a system admin any account's or every account's.
func TestOverview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		ctx := t.Context()
		raw, _, err := st.CreateAPIKey(ctx, e.acc, "acct-admin", []string{account.PermAccountAdmin})
		if err != nil {
			t.Fatal(err)
		}
		e.keys["acct"] = raw
		other := e.otherAccountKey(t, "other")

		var ids []string
		for i := range 3 {
			a := e.call(t, "POST", "/api/v1/sms/send", "admin", fmt.Sprintf(`{"to":"+959971234567","message":"overview %d"}`, i))
			if a.code != 202 {
				t.Fatalf("send: HTTP %d %s", a.code, a.raw)
			}
			ids = append(ids, fmt.Sprint(a.body["message_id"]))
		}
		if a := e.call(t, "POST", "/api/v1/sms/send", "", `{"to":"+959971234567","message":"someone else's"}`, "Authorization", "Bearer "+other); a.code != 202 {
			t.Fatalf("send as the other account: HTTP %d %s", a.code, a.raw)
		}
		// One delivered through a provider, one pending a retry, one queued.
		if err := st.DB().Exec("UPDATE messages SET status = 'delivered', provider = 'sandbox' WHERE id = ?", ids[0]).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB().Exec("UPDATE messages SET status = 'pending' WHERE id = ?", ids[1]).Error; err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct{ name, key, query, want string }{
			{"a send-only key", "sms", "", "lacks the account_admin permission"},
			{"minutes out of range", "acct", "?minutes=0", "minutes must be a whole number from 1 to 1440"},
			{"minutes not a number", "acct", "?minutes=an+hour", "minutes must be a whole number"},
		} {
			if a := e.call(t, "GET", "/api/v1/admin/overview"+tc.query, tc.key, ""); a.code/100 != 4 || !strings.Contains(a.raw, tc.want) {
				t.Errorf("%s: HTTP %d %s, want a refusal saying %q", tc.name, a.code, a.raw, tc.want)
			}
		}
		if a := e.call(t, "GET", "/api/v1/admin/overview?account_id=acc_someone_else", "acct", ""); a.code != 403 {
			t.Errorf("an account admin asking for another account: HTTP %d %s, want 403", a.code, a.raw)
		}

		type want struct {
			minutes, queued, pending, delivered, sandbox int
		}
		for _, tc := range []struct {
			name, key, query string
			want             want
		}{
			{"an account admin: its own account", "acct", "", want{60, 1, 1, 1, 1}},
			{"an account admin, 5 minutes", "acct", "?minutes=5", want{5, 1, 1, 1, 1}},
			{"a system admin: every account", "admin", "", want{60, 2, 1, 1, 1}},
			{"a system admin: one account", "admin", "?account_id=" + e.acc, want{60, 1, 1, 1, 1}},
		} {
			a := e.call(t, "GET", "/api/v1/admin/overview"+tc.query, tc.key, "")
			if a.code != 200 {
				t.Fatalf("%s: HTTP %d %s", tc.name, a.code, a.raw)
			}
			per, _ := a.body["per_minute"].([]any)
			byStatus, byProvider := map[string]float64{}, map[string]float64{}
			for _, m := range per {
				m := m.(map[string]any)
				for k, v := range m["by_status"].(map[string]any) {
					byStatus[k] += v.(float64)
				}
				for k, v := range m["by_provider"].(map[string]any) {
					byProvider[k] += v.(float64)
				}
			}
			q, _ := a.body["queue"].(map[string]any)
			got := want{len(per), int(q["queued"].(float64)), int(q["pending"].(float64)), int(byStatus["delivered"]), int(byProvider["sandbox"])}
			if got != tc.want || int(byStatus["queued"]) != tc.want.queued || len(byProvider) != 1 {
				t.Errorf("%s: got %+v by status %v by provider %v, want %+v", tc.name, got, byStatus, byProvider, tc.want)
			}
			if _, ok := a.body["webhook_backlog"].(map[string]any)["pending"]; !ok {
				t.Errorf("%s: no webhook backlog in %s", tc.name, a.raw)
			}
		}
	})
}
