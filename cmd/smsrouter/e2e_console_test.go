package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var consoleScreenshots = flag.String("console-screenshots", "", "write a PNG of each console page the browser test visits into this directory (for docs/console)")

// chromium finds the browser the console test drives, as Debian and most
// distributions name it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium); the web console's browser test needs it")
	return ""
}

// browser is one headless Chromium tab on the console of a running host.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// newBrowser starts headless Chromium, stopped when the test ends. The
// sandbox is off because containers (CI) rarely allow it; the browser only
// ever visits the test's own loopback server.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1200, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first run starts the browser and must not carry a timeout (it
	// would stop the browser with it); each step below has its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

// do runs steps, failing the test with what was being done.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page: %s)", what, err, b.text("body"))
	}
}

// text is the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		return fmt.Sprintf("<no %s: %v>", sel, err)
	}
	return s
}

// screenshot writes the visible page to name.png when the test was asked
// for screenshots.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	if *consoleScreenshots == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(*consoleScreenshots, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*consoleScreenshots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn logs in with key from the login page.
func (b *browser) signIn(key string) {
	b.t.Helper()
	b.do("fill in the login form",
		chromedp.Navigate(b.base+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS("#login #key")),
		chromedp.SetValue(chromedp.CSS("#login #key"), key),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
	)
}

func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary and a browser")
	}
	chromium(t)
	h := startHost(t, writeConfig(t, t.TempDir()))
	code, old := h.call(t, "POST", "/api/v1/admin/keys", `{"name":"old-integration","permissions":["send_sms"]}`)
	if code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("create a key to revoke: HTTP %d %v", code, old)
	}
	b := newBrowser(t, "http://"+h.addr)

	b.do("open the login page", chromedp.Navigate(b.base+"/console/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	b.screenshot("login")
	b.signIn(h.key)
	b.do("reach the overview", chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"][href="/console/"]`)))

	// The API tester sends and opens the message, whose page follows the
	// status live until the sandbox reports it delivered.
	b.do("send from the API tester",
		chromedp.Navigate(b.base+"/console/send"),
		chromedp.WaitVisible(chromedp.CSS("#send #to")),
		chromedp.SetValue(chromedp.CSS("#send #to"), "+959123456789"),
		chromedp.SetValue(chromedp.CSS("#send #message"), "Hello from the console"),
	)
	b.screenshot("send")
	b.do("submit the API tester", chromedp.Click(chromedp.CSS(`#send button[type="submit"]`)), chromedp.WaitVisible(chromedp.CSS("#message-id")))
	id := strings.TrimSpace(b.text("#message-id"))
	b.do("watch the status reach delivered",
		chromedp.Poll[chromedp.Void](`document.getElementById("status").textContent === "delivered"`, chromedp.WithPollingTimeout(30*time.Second)),
	)

	b.do("find the message in the list",
		chromedp.Navigate(b.base+"/console/messages"),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#messages a[href="/console/messages/%s"]`, id))),
	)
	b.screenshot("messages")
	b.do("open its detail",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#messages a[href="/console/messages/%s"]`, id))),
		chromedp.WaitVisible(chromedp.CSS("#timeline")),
		chromedp.Poll[chromedp.Void](`document.getElementById("timeline").textContent.includes("delivered")`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if got := strings.TrimSpace(b.text("#message-id")); got != id {
		t.Errorf("the list's link opened message %q, want %q", got, id)
	}
	if got := b.text("main"); !strings.Contains(got, "Hello from the console") || !strings.Contains(got, "sandbox") {
		t.Errorf("the detail page lacks the text or the provider:\n%s", got)
	}
	if got := b.text("#why"); !strings.Contains(got, "route default") || !strings.Contains(got, "sandbox") || !strings.Contains(got, "kept") {
		t.Errorf("the detail page's route explanation is %q, want the default route with sandbox kept", got)
	}
	b.screenshot("message")

	b.do("explain a route",
		chromedp.Navigate(b.base+"/console/routing"),
		chromedp.WaitVisible(chromedp.CSS("#explain #to")),
		chromedp.SetValue(chromedp.CSS("#explain #to"), "+959123456789"),
		chromedp.SetValue(chromedp.CSS("#explain #message"), "Your code is 1234"),
		chromedp.Click(chromedp.CSS(`#explain button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#explanation")),
	)
	if got := b.text("#explanation"); !strings.Contains(got, "sandbox") || !strings.Contains(got, "default") {
		t.Errorf("the explanation names neither the route nor its provider:\n%s", got)
	}
	b.screenshot("routing")

	// A new key with send_sms only, shown once, then the old key revoked.
	b.do("create a send-only key",
		chromedp.Navigate(b.base+"/console/keys"),
		chromedp.WaitVisible(chromedp.CSS("#new-key-form #name")),
		chromedp.SetValue(chromedp.CSS("#new-key-form #name"), "console-sender"),
		chromedp.Click(chromedp.CSS(`#new-key-form input[name="permissions"][value="send_sms"]`)),
		chromedp.Click(chromedp.CSS(`#new-key-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-key")),
	)
	sender := strings.TrimSpace(b.text("#new-key"))
	if !strings.HasPrefix(sender, "api_live_") {
		t.Fatalf("the new key shown is %q, want an api_live_ key", sender)
	}
	b.do("revoke the old key",
		chromedp.Click(chromedp.CSS(`tr[data-key="old-integration"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-key="old-integration"] .revoked`)),
	)
	b.screenshot("keys")
	oldKey := *h
	oldKey.key, _ = old["key"].(string)
	if code, body := oldKey.call(t, "POST", "/api/v1/sms/send", `{"to":"+959123456789","message":"after revoke"}`); code != http.StatusUnauthorized {
		t.Errorf("the revoked key still sends: HTTP %d %v", code, body)
	}

	b.do("open the providers page",
		chromedp.Navigate(b.base+"/console/providers"),
		chromedp.WaitVisible(chromedp.CSS(`#providers tr[data-provider="sandbox"]`)),
	)
	if got := b.text(`#providers tr[data-provider="sandbox"]`); !strings.Contains(got, "running") || !strings.Contains(got, "healthy") {
		t.Errorf("the providers page's sandbox row lacks its state or health: %q", got)
	}
	b.screenshot("providers")

	b.accountPage(t)

	b.do("open inbound", chromedp.Navigate(b.base+"/console/inbound"), chromedp.WaitVisible(chromedp.CSS("#inbound")))
	b.screenshot("inbound")
	// The message sent above is in the overview's charts, drawn as SVG
	// on the server.
	b.do("open the overview",
		chromedp.Navigate(b.base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#chart-status svg rect")),
		chromedp.WaitVisible(chromedp.CSS("#chart-provider svg rect")),
	)
	if got := b.text("#chart-status .legend"); !strings.Contains(got, "delivered") {
		t.Errorf("the status chart's legend lacks the delivered message: %q", got)
	}
	if got := b.text("#chart-provider .legend"); !strings.Contains(got, "sandbox") {
		t.Errorf("the provider chart's legend lacks the sandbox: %q", got)
	}
	if got := b.text("#queue"); !strings.Contains(got, "queued") {
		t.Errorf("the overview shows no queue: %q", got)
	}
	b.screenshot("overview")

	// Signed out, the send-only key is refused with the reason on the page.
	b.do("sign out", chromedp.Click(chromedp.CSS("form.logout button")), chromedp.WaitVisible(chromedp.CSS("#login")))
	b.signIn(sender)
	b.do("see the refusal", chromedp.WaitVisible(chromedp.CSS("#error")))
	if got := b.text("#error"); !strings.Contains(got, "cannot sign in") || !strings.Contains(got, "account_admin") {
		t.Errorf("login error for a send-only key = %q, want it to say the key cannot sign in and lacks account_admin", got)
	}
	b.screenshot("login-refused")
	b.do("stay signed out", chromedp.Navigate(b.base+"/console/messages"), chromedp.WaitVisible(chromedp.CSS("#login")))
}

// accountPage adds credit (a bad amount first, refused next to its
// field), sees it in the ledger, sets the webhook to a receiver and sends
// it a test event.
func (b *browser) accountPage(t *testing.T) {
	t.Helper()
	received := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Get("X-Event-Type")
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)

	b.do("add credit with a bad amount",
		chromedp.Navigate(b.base+"/console/account"),
		chromedp.WaitVisible(chromedp.CSS("#credit #amount")),
		chromedp.SetValue(chromedp.CSS("#credit #amount"), "a lot"),
		chromedp.Click(chromedp.CSS(`#credit button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#amount-error")),
	)
	b.screenshot("account-error")
	b.do("add credit",
		chromedp.SetValue(chromedp.CSS("#credit #amount"), "25.50"),
		chromedp.SetValue(chromedp.CSS("#credit #reason"), "console top-up"),
		chromedp.Click(chromedp.CSS(`#credit button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#credited")),
	)
	if got := b.text("#ledger"); !strings.Contains(got, "console top-up") || !strings.Contains(got, "25.5") {
		t.Errorf("the ledger lacks the top-up: %q", got)
	}
	b.do("set the webhook",
		chromedp.SetValue(chromedp.CSS("#webhook #url"), recv.URL+"/events"),
		chromedp.Click(chromedp.CSS(`#webhook button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#webhook-secret")),
	)
	b.do("send a test event",
		chromedp.Click(chromedp.CSS(`#webhook-test button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#test-result")),
	)
	if got := b.text("#test-result"); !strings.Contains(got, "delivered") || strings.Contains(got, "not delivered") || !strings.Contains(got, "HTTP 204") {
		t.Errorf("the test event's result is %q, want delivered with HTTP 204", got)
	}
	select {
	case typ := <-received:
		if typ != "webhook.test" {
			t.Errorf("the receiver got a %q event, want webhook.test", typ)
		}
	default:
		t.Error("the receiver got no test event")
	}
	b.screenshot("account")
}
