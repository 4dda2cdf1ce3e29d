package server_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestUpdateAccountMessageBodies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		path := "/api/v1/admin/accounts/" + e.acc
		for _, tc := range []struct {
			name, key, path, body string
			code                  int
			want                  string
		}{
			{"not an admin", "sms", path, `{"message_bodies":"none"}`, 403, ""},
			{"unknown account", "admin", "/api/v1/admin/accounts/acc_nope", `{"message_bodies":"none"}`, 404, `{"error":"account not found: acc_nope"}`},
			{"no setting", "admin", path, `{}`, 422, `{"error":"message_bodies is required: \"full\", \"masked\" or \"none\""}`},
			{"unknown policy", "admin", path, `{"message_bodies":"hashed"}`, 422,
				`{"error":"message_bodies \"hashed\" is not one of \"full\" (keep the text, sealed), \"masked\" (keep it with digits masked) or \"none\" (keep none)"}`},
			{"masked", "admin", path, `{"message_bodies":"masked"}`, 200, `{"id":"` + e.acc + `","message_bodies":"masked","name":"acme"}`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.call(t, "PATCH", tc.path, tc.key, tc.body)
				if a.code != tc.code || (tc.want != "" && a.raw != tc.want) {
					t.Errorf("PATCH %s %s: HTTP %d %s, want %d %s", tc.path, tc.body, a.code, a.raw, tc.code, tc.want)
				}
			})
		}
		if acc, err := st.AccountByID(t.Context(), e.acc); err != nil || acc.MessageBodies != "masked" {
			t.Errorf("stored %q, %v; want masked", acc.MessageBodies, err)
		}
	})
}
