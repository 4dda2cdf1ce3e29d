package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// An account admin manages its own account's keys and nothing else: other
// accounts' keys and the installation-wide endpoints answer 403 with the
// reason, where a system admin gets through. (Routing's endpoints: see
// TestRouteExplainEndpoint.)
func TestAccountAdminStaysInItsAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		ctx := context.Background()
		other, err := st.CreateAccount(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		_, otherKey, err := st.CreateAPIKey(ctx, other.ID, "other app", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		raw, _, err := st.CreateAPIKey(ctx, e.acc, "tenant admin", []string{account.PermAccountAdmin})
		if err != nil {
			t.Fatal(err)
		}
		e.keys["tenant"] = raw

		const ownAccount, system = "its own account", "lacks the system_admin permission"
		for _, c := range []struct {
			method, path, body string
			why                string
		}{
			{"POST", "/api/v1/admin/keys", `{"name":"x","permissions":["send_sms"],"account_id":"` + other.ID + `"}`, ownAccount},
			{"POST", "/api/v1/admin/keys", `{"name":"x","permissions":["send_sms"],"account":"other"}`, ownAccount},
			{"POST", "/api/v1/admin/keys", `{"name":"x","permissions":["send_sms"],"account":"brand-new"}`, ownAccount},
			{"POST", "/api/v1/admin/keys", `{"name":"x","permissions":["system_admin"]}`, "only a system_admin key"},
			{"POST", "/api/v1/admin/keys", `{"name":"x","permissions":["send_sms"],"sms_per_minute":100000}`, "needs a system_admin key"},
			{"GET", "/api/v1/admin/keys?account_id=" + other.ID, "", ownAccount},
			{"DELETE", "/api/v1/admin/keys/" + otherKey.ID, "", ownAccount},
			{"POST", "/api/v1/admin/accounts/" + e.acc + "/credit", `{"amount":100}`, system},
			{"GET", "/api/v1/admin/providers", "", system},
		} {
			a := e.call(t, c.method, c.path, "tenant", c.body)
			if a.code != 403 || !strings.Contains(fmt.Sprint(a.body["error"]), c.why) {
				t.Errorf("account admin %s %s %s: HTTP %d %s, want 403 saying %q", c.method, c.path, c.body, a.code, a.raw, c.why)
			}
		}
		if _, err := st.AccountByName(ctx, "brand-new"); err == nil {
			t.Error("a refused account admin request created the account it named")
		}

		// Its own account: list (only its own keys), create, revoke.
		a := e.call(t, "GET", "/api/v1/admin/keys", "tenant", "")
		if a.code != 200 {
			t.Fatalf("account admin lists its keys: HTTP %d %s", a.code, a.raw)
		}
		for _, k := range a.body["keys"].([]any) {
			if acc := k.(map[string]any)["account_id"]; acc != e.acc {
				t.Errorf("account admin's list shows a key of account %v", acc)
			}
		}
		a = e.call(t, "POST", "/api/v1/admin/keys", "tenant", `{"name":"worker","permissions":["send_sms","admin"],"account":"acme"}`)
		if a.code != 201 || fmt.Sprint(a.body["api_key"].(map[string]any)["permissions"]) != "[send_sms account_admin]" {
			t.Fatalf("account admin creates a key on its account: HTTP %d %s", a.code, a.raw)
		}
		id := fmt.Sprint(a.body["api_key"].(map[string]any)["id"])
		if a := e.call(t, "DELETE", "/api/v1/admin/keys/"+id, "tenant", ""); a.code != 200 {
			t.Fatalf("account admin revokes its key: HTTP %d %s", a.code, a.raw)
		}

		// The system admin reaches every account.
		if a := e.call(t, "GET", "/api/v1/admin/keys?account_id="+other.ID, "admin", ""); a.code != 200 || len(a.body["keys"].([]any)) != 1 {
			t.Errorf("system admin lists another account's keys: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "POST", "/api/v1/admin/keys", "admin", `{"name":"y","permissions":["system_admin"],"account_id":"`+other.ID+`"}`); a.code != 201 {
			t.Errorf("system admin creates a key on another account: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "DELETE", "/api/v1/admin/keys/"+otherKey.ID, "admin", ""); a.code != 200 {
			t.Errorf("system admin revokes another account's key: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "POST", "/api/v1/admin/accounts/"+other.ID+"/credit", "admin", `{"amount":1}`); a.code != 200 {
			t.Errorf("system admin credits an account: HTTP %d %s", a.code, a.raw)
		}
	})
}
