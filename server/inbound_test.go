package server_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// inboundPage lists the ids of a page of GET /sms/inbound and its cursor.
func inboundPage(t *testing.T, e *apiEnv, query string) (ids []string, next string, a answer) {
	t.Helper()
	a = e.call(t, "GET", "/api/v1/sms/inbound"+query, "read", "")
	if a.code != 200 {
		t.Fatalf("GET /sms/inbound%s: HTTP %d %s", query, a.code, a.raw)
	}
	for _, m := range a.body["messages"].([]any) {
		ids = append(ids, m.(map[string]any)["id"].(string))
	}
	next, _ = a.body["next_cursor"].(string)
	return ids, next, a
}

func TestInboundAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		ctx := context.Background()
		if _, err := st.CreateAccount(ctx, "other"); err != nil {
			t.Fatal(err)
		}
		// Messages to +14155550199 belong to "other"; the rest to acme,
		// the first account.
		st.SetInboundOwners(map[string]string{"+14155550199": "other"})
		base := time.Date(2025, 10, 22, 10, 0, 0, 0, time.UTC)
		type in struct {
			from, to string
			at       time.Duration
		}
		ins := []in{
			{"+959100000001", "+14155550100", 0},
			{"+959100000002", "+14155550100", time.Minute},
			{"+959100000001", "+14155550101", 2 * time.Minute},
			// Three at one instant: a page boundary falls between them.
			{"+959100000003", "+14155550100", 3 * time.Minute},
			{"+959100000003", "+14155550100", 3 * time.Minute},
			{"+959100000003", "+14155550100", 3 * time.Minute},
			{"+959100000001", "+14155550100", 4 * time.Minute},
			{"+959100000009", "+14155550199", 5 * time.Minute}, // other's
		}
		var events []message.Event
		for i, m := range ins {
			events = append(events, message.Event{ID: fmt.Sprintf("mo-%d", i), Inbound: &inbound.Message{
				ProviderMessageID: fmt.Sprintf("p-%d", i), Sender: m.from, Recipient: m.to, Text: fmt.Sprintf("text %d", i), ReceivedAt: base.Add(m.at)}})
		}
		if err := st.StoreEvents(ctx, "fast", events); err != nil {
			t.Fatal(err)
		}

		// Every page of 2, newest first, each message once.
		var all []string
		var texts []string
		query := "?limit=2"
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			ids, next, a := inboundPage(t, e, query)
			if len(ids) > 2 {
				t.Fatalf("page of %d with limit=2", len(ids))
			}
			for _, m := range a.body["messages"].([]any) {
				texts = append(texts, m.(map[string]any)["text"].(string))
			}
			all = append(all, ids...)
			if next == "" {
				break
			}
			query = "?limit=2&cursor=" + url.QueryEscape(next)
		}
		// The three received at one instant come in id order: any order
		// of their texts, as long as no page repeats or skips one.
		same := append([]string(nil), texts[1:min(4, len(texts))]...)
		slices.Sort(same)
		if len(texts) != 7 || texts[0] != "text 6" || strings.Join(same, ",") != "text 3,text 4,text 5" ||
			strings.Join(texts[4:], ",") != "text 2,text 1,text 0" {
			t.Errorf("pages gave %v, want acme's seven, newest first", texts)
		}
		seen := map[string]bool{}
		for _, id := range all {
			if seen[id] {
				t.Errorf("%s on two pages", id)
			}
			seen[id] = true
		}

		// One message, all fields.
		a := e.call(t, "GET", "/api/v1/sms/inbound/"+all[0], "read", "")
		if a.code != 200 || a.body["id"] != all[0] || a.body["from"] != "+959100000001" || a.body["to"] != "+14155550100" ||
			a.body["text"] != "text 6" || a.body["provider"] != "fast" || a.body["provider_message_id"] != "p-6" ||
			a.body["received_at"] != "2025-10-22T10:04:00Z" {
			t.Errorf("GET one: HTTP %d %s", a.code, a.raw)
		}

		tests := []struct {
			name, query string
			want        []string // texts
		}{
			{"since", "?since=2025-10-22T10:04:00Z", []string{"text 6"}},
			{"since is inclusive, until is not", "?since=2025-10-22T10:02:00Z&until=2025-10-22T10:03:00Z", []string{"text 2"}},
			{"until", "?until=2025-10-22T10:02:00Z", []string{"text 1", "text 0"}},
			{"since and until", "?since=2025-10-22T10:01:00Z&until=2025-10-22T10:03:00Z", []string{"text 2", "text 1"}},
			{"from, plus encoded", "?from=%2B959100000001", []string{"text 6", "text 2", "text 0"}},
			{"from, plus unencoded", "?from=+959100000001", []string{"text 6", "text 2", "text 0"}},
			{"to", "?to=%2B14155550101", []string{"text 2"}},
			{"from and since", "?from=%2B959100000001&since=2025-10-22T10:01:00Z", []string{"text 6", "text 2"}},
			{"another account's number", "?to=%2B14155550199", nil},
			{"nobody", "?from=%2B10000000000", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, next, a := inboundPage(t, e, tt.query)
				var got []string
				for _, m := range a.body["messages"].([]any) {
					got = append(got, m.(map[string]any)["text"].(string))
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") || next != "" {
					t.Errorf("got %v (next %q), want %v", got, next, tt.want)
				}
			})
		}

		// The other account's message is not acme's to read.
		var foreign store.InboundMessage
		if err := st.DB().Where("recipient = ?", "+14155550199").Take(&foreign).Error; err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{foreign.ID, "in_000000000000000000000000"} {
			if a := e.call(t, "GET", "/api/v1/sms/inbound/"+id, "read", ""); a.code != 404 || a.body["error"] == nil {
				t.Errorf("GET %s: HTTP %d %s, want 404", id, a.code, a.raw)
			}
		}

		errs := []struct {
			name, path, key string
			code            int
			want            string
		}{
			{"list without receive_sms", "/api/v1/sms/inbound", "sms", 403, "receive_sms"},
			{"one without receive_sms", "/api/v1/sms/inbound/" + all[0], "otp", 403, "receive_sms"},
			{"no key", "/api/v1/sms/inbound", "", 401, "Unauthorized"},
			{"bad cursor", "/api/v1/sms/inbound?cursor=bm90LWEtY3Vyc29y", "read", 422, "cursor"},
			{"cursor not base64", "/api/v1/sms/inbound?cursor=%25%25", "read", 422, "cursor"},
			{"limit too large", "/api/v1/sms/inbound?limit=501", "read", 422, "limit"},
			{"limit not a number", "/api/v1/sms/inbound?limit=ten", "read", 422, "limit"},
			{"since not a time", "/api/v1/sms/inbound?since=yesterday", "read", 422, "since"},
			{"until not a time", "/api/v1/sms/inbound?until=2025-10-22", "read", 422, "until"},
			{"until before since", "/api/v1/sms/inbound?since=2025-10-22T10:03:00Z&until=2025-10-22T10:03:00Z", "read", 422, "until"},
		}
		for _, tt := range errs {
			if a := e.call(t, "GET", tt.path, tt.key, ""); a.code != tt.code || !strings.Contains(a.raw, tt.want) {
				t.Errorf("%s: HTTP %d %s, want %d mentioning %q", tt.name, a.code, a.raw, tt.code, tt.want)
			}
		}
		// admin implies receive_sms.
		if a := e.call(t, "GET", "/api/v1/sms/inbound?limit=1", "admin", ""); a.code != 200 {
			t.Errorf("admin key: HTTP %d %s", a.code, a.raw)
		}
	})
}
