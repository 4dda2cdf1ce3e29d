package server_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// browser is an HTTP client with cookies, as a browser signs in.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return m[1]
}

// The console signs in only admin keys, keeps the key on the server, asks
// every form for its session's CSRF token, and does what the API lets the
// key do: here send a message, see it, create and revoke a key.
func TestConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]

		code, page := newBrowser(t, e.url).get("/console/messages")
		if code != 200 || !strings.Contains(page, `id="login"`) {
			t.Fatalf("a page without a session: HTTP %d, want the login page", code)
		}
		for _, tc := range []struct {
			name, key string
			code      int
			want      string
		}{
			{"no key", "", 422, "Enter an admin API key"},
			{"a wrong key", "api_live_nope", 401, "invalid or revoked API key"},
			{"a send-only key", e.keys["sms"], 403, "lacks the account_admin permission"},
		} {
			code, page := newBrowser(t, e.url).post("/console/login", url.Values{"key": {tc.key}})
			if code != tc.code || !strings.Contains(page, tc.want) || !strings.Contains(page, `id="login"`) {
				t.Errorf("%s: HTTP %d, want %d with %q and the login form:\n%s", tc.name, code, tc.code, tc.want, page)
			}
		}

		b := newBrowser(t, e.url)
		code, page = b.post("/console/login", url.Values{"key": {e.keys["admin"]}})
		if code != 200 || !strings.Contains(page, "<h1>Overview</h1>") || !strings.Contains(page, `id="provider-health"`) ||
			!strings.Contains(page, `id="chart-status"`) || !strings.Contains(page, `id="queue"`) || !strings.Contains(page, `id="webhook-backlog"`) {
			t.Fatalf("sign-in with a system admin key: HTTP %d:\n%s", code, page)
		}
		if strings.Contains(page, e.keys["admin"]) {
			t.Fatal("the page shows the API key")
		}
		csrf := csrfOf(t, page)

		if code, _ := b.post("/console/send", url.Values{"to": {"+959971234567"}, "message": {"Hello"}}); code != 403 {
			t.Errorf("a form without the CSRF token: HTTP %d, want 403", code)
		}
		code, page = b.post("/console/send", url.Values{"csrf": {csrf}, "to": {"12"}, "message": {"Hello"}})
		if code != 422 || !strings.Contains(page, "Invalid phone number format") || !strings.Contains(page, `value="12"`) {
			t.Errorf("a bad number: HTTP %d, want 422 with the API's reason beside the kept form:\n%s", code, page)
		}
		code, page = b.post("/console/send", url.Values{"csrf": {csrf}, "to": {"+959971234567"}, "message": {"Hello from the console"}})
		if code != 200 || !strings.Contains(page, "Hello from the console") || !strings.Contains(page, `data-status-url="/console/messages/msg_`) {
			t.Fatalf("send from the API tester: HTTP %d, want the new message's page:\n%s", code, page)
		}
		if code, page := b.get("/console/messages"); code != 200 || !strings.Contains(page, "959971234567") {
			t.Errorf("message list: HTTP %d:\n%s", code, page)
		}
		// Nothing sends in this test: the message waits queued, and the
		// overview counts it in the chart and the queue.
		if code, page := b.get("/console/"); code != 200 || !strings.Contains(page, `<span id="queued">1</span>`) ||
			!regexp.MustCompile(`(?s)id="chart-status".*<rect [^>]*fill="#9aa5b8"><title>\d\d:\d\d queued: 1</title>`).MatchString(page) {
			t.Errorf("overview after one send: HTTP %d, want one queued message in the queue and the chart:\n%s", code, page)
		}

		code, page = b.post("/console/keys", url.Values{"csrf": {csrf}, "name": {"ops"}, "permissions": {"send_sms"}})
		newKey := regexp.MustCompile(`id="new-key">(api_live_[^<]+)<`).FindStringSubmatch(page)
		if code != 200 || newKey == nil {
			t.Fatalf("create a key: HTTP %d, want the key shown once:\n%s", code, page)
		}
		if _, again := b.get("/console/keys"); strings.Contains(again, newKey[1]) {
			t.Error("the new key's secret is shown again on the next visit")
		}
		revoke := regexp.MustCompile(`(?s)<tr data-key="ops">.*?action="(/console/keys/[^"]+/revoke)"`).FindStringSubmatch(page)
		if revoke == nil {
			t.Fatalf("no revoke form for the new key:\n%s", page)
		}
		if code, page := b.post(revoke[1], url.Values{"csrf": {csrf}}); code != 200 || !strings.Contains(page, "revoked") {
			t.Errorf("revoke: HTTP %d:\n%s", code, page)
		}
		if a := e.call(t, "GET", "/api/v1/balance", "", "", "Authorization", "Bearer "+newKey[1]); a.code != 401 {
			t.Errorf("the revoked key still works: HTTP %d", a.code)
		}

		if code, page := b.get("/console/providers"); code != 200 || !strings.Contains(page, `id="providers"`) {
			t.Errorf("providers page: HTTP %d:\n%s", code, page)
		}
		code, page = b.get("/console/account")
		accountID := regexp.MustCompile(`id="account-id">([^<]+)<`).FindStringSubmatch(page)
		if code != 200 || accountID == nil || accountID[1] != e.acc || !strings.Contains(page, `id="ledger"`) {
			t.Fatalf("account page: HTTP %d, want the account id %s and its ledger:\n%s", code, e.acc, page)
		}
		code, page = b.post("/console/account/credit", url.Values{"csrf": {csrf}, "amount": {"lots"}})
		if code != 422 || !strings.Contains(page, `id="amount-error"`) || !strings.Contains(page, `value="lots"`) {
			t.Errorf("credit with a bad amount: HTTP %d, want 422 with the error next to the field:\n%s", code, page)
		}
		code, page = b.post("/console/account/credit", url.Values{"csrf": {csrf}, "amount": {"12.5"}, "reason": {"console top-up"}})
		if code != 200 || !strings.Contains(page, `id="credited"`) || !strings.Contains(page, "console top-up") {
			t.Errorf("credit: HTTP %d, want the entry in the ledger:\n%s", code, page)
		}
		code, page = b.post("/console/account/webhook", url.Values{"csrf": {csrf}, "url": {"ftp://nowhere"}})
		if code != 422 || !strings.Contains(page, `id="url-error"`) || !strings.Contains(page, `value="ftp://nowhere"`) {
			t.Errorf("a bad webhook URL: HTTP %d, want 422 with the error next to the field:\n%s", code, page)
		}
		code, page = b.post("/console/account/webhook/test", url.Values{"csrf": {csrf}})
		if code != 404 || !strings.Contains(page, `id="test-error"`) {
			t.Errorf("test event without a webhook: HTTP %d, want 404 with the reason:\n%s", code, page)
		}
		code, page = b.post("/console/account/webhook", url.Values{"csrf": {csrf}, "url": {"https://app.example/hooks"}})
		if code != 200 || !strings.Contains(page, `id="webhook-secret"`) {
			t.Errorf("set the webhook: HTTP %d, want the new secret shown once:\n%s", code, page)
		}
		// app.example resolves nowhere: the test event's answer says so.
		code, page = b.post("/console/account/webhook/test", url.Values{"csrf": {csrf}})
		if code != 200 || !strings.Contains(page, `id="test-result"`) || !strings.Contains(page, "not delivered") {
			t.Errorf("test event: HTTP %d, want its result:\n%s", code, page)
		}

		u, _ := url.Parse(e.url + "/console/")
		old := b.c.Jar.Cookies(u)
		if code, _ := b.post("/console/logout", url.Values{"csrf": {csrf}}); code != 200 {
			t.Errorf("sign out: HTTP %d", code)
		}
		if code, page := b.get("/console/"); code != 200 || !strings.Contains(page, `id="login"`) {
			t.Errorf("after signing out: HTTP %d, want the login page", code)
		}
		// The ended session's cookie, replayed, leads to the login page too.
		replay := newBrowser(t, e.url)
		replay.c.Jar.SetCookies(u, old)
		if code, page := replay.get("/console/"); code != 200 || !strings.Contains(page, "Your session ended") {
			t.Errorf("an ended session's cookie: HTTP %d, want the login page saying the session ended", code)
		}
	})
}
