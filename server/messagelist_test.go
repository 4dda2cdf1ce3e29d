package server_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// listRows stores messages of the test account: a sent one through
// "fast" on route "default", a queued OTP to Thailand, and an older
// marketing message; newest first.
func listRows(t *testing.T, e *apiEnv) []*store.Message {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	row := func(age time.Duration, to string, kind message.Kind) *store.Message {
		at := now.Add(-age)
		return &store.Message{ID: recordid.New("msg_"), AccountID: e.acc, Recipient: to, Sender: "=HYPERLINK(1)", Text: "x",
			Encoding: "gsm7", Segments: 1, Kind: kind, Country: "MM", Route: "default", Status: message.Queued, Plan: `["fast"]`,
			NextAttemptAt: at.Add(time.Hour), ExpiresAt: at.Add(2 * time.Hour), CreatedAt: at, UpdatedAt: at, Charged: 20_000}
	}
	rows := []*store.Message{row(time.Minute, "+959123456789", message.KindSMS), row(2*time.Minute, "+66812345678", message.KindOTP),
		row(time.Hour, "+959123456789", message.KindMarketing)}
	sent := now.Add(-time.Minute)
	rows[0].Status, rows[0].Provider, rows[0].ProviderMessageID, rows[0].Attempts, rows[0].SentAt = message.Sent, "fast", "p-1", 1, &sent
	rows[1].Country = "TH"
	if err := storetest.InsertMessages(context.Background(), e.st, rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestListMessagesFiltersAndFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		rows := listRows(t, e)
		since := url.QueryEscape(time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339))
		for _, tc := range []struct {
			name, query string
			want        []*store.Message
		}{
			{"all", "", rows},
			{"provider", "provider=fast", rows[:1]},
			{"route", "route=default", rows},
			{"recipient", "to=%2B66812345678", rows[1:2]},
			{"kind", "kind=marketing", rows[2:]},
			{"status", "status=sent", rows[:1]},
			{"since", "since=" + since, rows[:2]},
			{"until", "until=" + since, rows[2:]},
			{"unknown provider", "provider=nope", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := e.call(t, "GET", "/api/v1/sms/messages?"+tc.query, "read", "")
				list, _ := a.body["messages"].([]any)
				if a.code != 200 || len(list) != len(tc.want) {
					t.Fatalf("HTTP %d %s, want %d messages", a.code, a.raw, len(tc.want))
				}
				for i, m := range tc.want {
					if got := list[i].(map[string]any)["message_id"]; got != m.ID {
						t.Errorf("message %d is %v, want %s", i, got, m.ID)
					}
				}
			})
		}
		a := e.call(t, "GET", "/api/v1/sms/messages?provider=fast", "read", "")
		for _, want := range []string{`"kind":"sms"`, `"encoding":"gsm7"`, `"country":"MM"`, `"route":"default"`, `"provider":"fast"`,
			`"provider_message_id":"p-1"`, `"attempts":1`, `"price":0.02`, `"currency":"USD"`, `"status":"sent"`} {
			if !strings.Contains(a.raw, want) {
				t.Errorf("listed message %s lacks %s", a.raw, want)
			}
		}
		for _, tc := range []struct{ query, want string }{
			{"status=bogus", `status "bogus" is not a message status`},
			{"kind=fax", `kind "fax" is not a message kind; use one of sms, otp, transactional, marketing`},
			{"to=959123456789", "is not a number in international format"},
			{"to=%2B95abc", "is not a number in international format"},
			{"provider=" + strings.Repeat("p", 65), "provider is 65 characters long"},
			{"until=tomorrow", "until must be an RFC 3339 time"},
			{"since=2025-10-22T10:00:00Z&until=2025-10-22T10:00:00Z", "until must be later than since"},
			{"cursor=zzz", "cursor"},
		} {
			if a := e.call(t, "GET", "/api/v1/sms/messages?"+tc.query, "read", ""); a.code != 422 || !strings.Contains(fmt.Sprint(a.body["error"]), tc.want) {
				t.Errorf("list with %s: HTTP %d %s, want 422 saying %q", tc.query, a.code, a.raw, tc.want)
			}
		}
	})
}

// getCSV asks path for CSV and returns the answer and its rows.
func getCSV(t *testing.T, e *apiEnv, path, accept string) (*http.Response, [][]string) {
	t.Helper()
	req, err := http.NewRequest("GET", e.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.keys["read"])
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("GET %s: HTTP %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil {
		t.Fatalf("GET %s: not CSV: %v\n%s", path, err, raw)
	}
	return resp, rows
}

func TestExportMessagesCSV(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		rows := listRows(t, e)
		foreignMessage(t, st)
		for _, tc := range []struct{ name, path, accept string }{
			{"messages.csv", "/api/v1/sms/messages.csv", ""},
			{"Accept: text/csv", "/api/v1/sms/messages", "text/csv"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, got := getCSV(t, e, tc.path, tc.accept)
				if resp.StatusCode != 200 || len(got) != 1+len(rows) || resp.Header.Get("X-Next-Cursor") != "" {
					t.Fatalf("HTTP %d, %d lines, X-Next-Cursor %q: %v; want the header and the account's %d messages, no cursor",
						resp.StatusCode, len(got), resp.Header.Get("X-Next-Cursor"), got, len(rows))
				}
				head := strings.Join(got[0], ",")
				if !strings.HasPrefix(head, "message_id,created_at,status,to,from,kind,") {
					t.Errorf("header %s", head)
				}
				first := map[string]string{}
				for i, col := range got[0] {
					first[col] = got[1][i]
				}
				for col, want := range map[string]string{"message_id": rows[0].ID, "status": "sent", "to": "+959123456789",
					"from": "'=HYPERLINK(1)", "provider": "fast", "price": "0.02", "currency": "USD", "route": "default"} {
					if first[col] != want {
						t.Errorf("column %s = %q, want %q", col, first[col], want)
					}
				}
			})
		}
		_, got := getCSV(t, e, "/api/v1/sms/messages.csv?kind=otp", "")
		if len(got) != 2 || got[1][0] != rows[1].ID {
			t.Errorf("export of OTPs: %v", got)
		}
		if a := e.call(t, "GET", "/api/v1/sms/messages.csv?until=soon", "read", ""); a.code != 422 || !strings.Contains(a.raw, "until must be") {
			t.Errorf("export with a bad until: HTTP %d %s, want 422", a.code, a.raw)
		}
	})
}
