package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/smsrouter/smsrouter/sdk"
)

// at is the fixed time the test plugin puts on its events.
var at = time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// launch starts the test plugin and kills it when the test ends, failing the
// test if the plugin (built with -race under go test -race) reported a race.
func launch(t *testing.T, opts sdk.LaunchOptions) *sdk.Plugin {
	t.Helper()
	stderr := newWatcher()
	if opts.Stderr != nil {
		opts.Stderr = io.MultiWriter(opts.Stderr, stderr)
	} else {
		opts.Stderr = stderr
	}
	cmd := exec.Command(testPluginPath)
	// The race runtime otherwise sleeps a second at exit.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	p, err := sdk.Launch(cmd, opts)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() {
		p.Kill()
		if strings.Contains(stderr.String(), "DATA RACE") {
			t.Errorf("the plugin process reported a data race:\n%s", stderr.String())
		}
	})
	return p
}

func configure(t *testing.T, ctx context.Context, prov sdk.Provider) {
	t.Helper()
	if err := prov.Configure(ctx, sdk.Config{Name: "test-1", Settings: json.RawMessage(`{}`)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
}

func TestMetadataAndCapabilities(t *testing.T) {
	p := launch(t, sdk.LaunchOptions{})
	if p.PID() <= 0 || p.Exited() {
		t.Fatalf("PID() = %d, Exited() = %v; want a running process", p.PID(), p.Exited())
	}
	want := sdk.Capabilities{
		Info:        sdk.Info{Name: "testplugin", Version: "1.2.3", MaxBatchSize: 10},
		Events:      true,
		Hooks:       true,
		Health:      true,
		Balance:     false,
		SenderIDs:   true,
		StatusQuery: true,
		Numbers:     true,
		Devices:     true,
		Revoke:      true,
		Networks:    true,
		Tune:        true,

		SettingsValidation: true,
	}
	if got := sdk.CapabilitiesOf(p.Provider()); got != want {
		t.Errorf("CapabilitiesOf = %+v, want %+v", got, want)
	}
	if got := p.Provider().Info(); got != want.Info {
		t.Errorf("Info = %+v, want %+v", got, want.Info)
	}
}

func TestConfigure(t *testing.T) {
	ctx := testCtx(t)
	logs := newWatcher("test plugin configured")
	raw := newWatcher(`"@message":"test plugin configured"`)
	p := launch(t, sdk.LaunchOptions{
		Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}).With("provider", "sms-test-1"),
		Stderr: raw,
	})
	prov := p.Provider()

	const reason = `settings: "system_id" is required (the SMSC login name)`
	err := prov.Configure(ctx, sdk.Config{Name: "sms-test-1", Settings: json.RawMessage(`{"fail":` + quote(reason) + `}`)})
	if err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("Configure error = %v, want it to contain %q", err, reason)
	}
	if errors.Is(err, sdk.ErrUnavailable) || errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("Configure error %v is classified as unavailable/unsupported; it is the provider's own", err)
	}

	settings := json.RawMessage(`{"system_id":"abc"}`)
	cfg := sdk.Config{Name: "sms-test-1", Settings: settings, HookURL: "https://gw.example.com/api/v1/providers/sms-test-1/hooks"}
	if err := prov.Configure(ctx, cfg); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	var echo struct {
		Name     string          `json:"name"`
		HookURL  string          `json:"hook_url"`
		Settings json.RawMessage `json:"settings"`
	}
	hook(t, ctx, prov, &sdk.HookRequest{Path: "/echo"}).decode(t, &echo)
	if echo.Name != cfg.Name || echo.HookURL != cfg.HookURL || !bytes.Equal(echo.Settings, settings) {
		t.Errorf("plugin saw config %+v, want name %q, hook URL %q, settings %s", echo, cfg.Name, cfg.HookURL, settings)
	}

	// The provider's log line reaches the host's logger, tagged once with the
	// provider name, and the raw stderr copy.
	for name, w := range map[string]*watcher{"logger": logs, "stderr": raw} {
		select {
		case <-w.found:
		case <-ctx.Done():
			t.Fatalf("the plugin's log line never reached the host's %s; got:\n%s", name, w.String())
		}
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "test plugin configured") && strings.Count(line, "provider=sms-test-1") != 1 {
			t.Errorf("relayed log line should name the provider exactly once:\n%s", line)
		}
	}
}

func TestSendResultsInOrder(t *testing.T) {
	ctx := testCtx(t)
	p := launch(t, sdk.LaunchOptions{})
	prov := p.Provider()
	configure(t, ctx, prov)

	tests := []struct {
		name string
		text string // what the test plugin is asked to answer
		want sdk.SendResult
	}{
		{"accepted", `{"outcome":1,"provider_message_id":"SM123"}`,
			sdk.SendResult{Outcome: sdk.Accepted, ProviderMessageID: "SM123"}},
		{"temporary with retry after", `{"outcome":2,"code":"429","reason":"throttled","retry_after_ms":2000}`,
			sdk.SendResult{Outcome: sdk.Temporary, Code: "429", Reason: "throttled", RetryAfter: 2 * time.Second}},
		{"permanent", `{"outcome":3,"code":"0x0000000B","reason":"invalid destination address"}`,
			sdk.SendResult{Outcome: sdk.Permanent, Code: "0x0000000B", Reason: "invalid destination address"}},
		{"permanent with its refusal", `{"outcome":3,"code":"0x0000000A","reason":"invalid source address","refusal":"INVALID_SENDER"}`,
			sdk.SendResult{Outcome: sdk.Permanent, Code: "0x0000000A", Reason: "invalid source address", Refusal: sdk.RefusalInvalidSender}},
		{"sub-millisecond retry after survives", `{"outcome":2,"retry_after_ms":1}`,
			sdk.SendResult{Outcome: sdk.Temporary, RetryAfter: time.Millisecond}},
		{"unset outcome passes through for the host to reject", `{"outcome":0,"reason":"forgot"}`,
			sdk.SendResult{Outcome: 0, Reason: "forgot"}},
		{"unknown outcome passes through", `{"outcome":7}`,
			sdk.SendResult{Outcome: 7}},
		{"expired", `{"outcome":4,"code":"EXPIRED","reason":"validity passed in the queue"}`,
			sdk.SendResult{Outcome: sdk.OutcomeExpired, Code: "EXPIRED", Reason: "validity passed in the queue"}},
		{"unavailable", `{"outcome":5,"code":"503","reason":"upstream down"}`,
			sdk.SendResult{Outcome: sdk.OutcomeUnavailable, Code: "503", Reason: "upstream down"}},
		{"account error", `{"outcome":6,"code":"401","reason":"API key rejected","refusal":"UNAUTHORIZED"}`,
			sdk.SendResult{Outcome: sdk.OutcomeAccountError, Code: "401", Reason: "API key rejected", Refusal: sdk.RefusalUnauthorized}},
		{"an older plugin's temporary EXPIRED is expired", `{"outcome":2,"code":"EXPIRED"}`,
			sdk.SendResult{Outcome: sdk.OutcomeExpired, Code: "EXPIRED"}},
	}
	msgs := make([]sdk.Message, len(tests))
	for i, tt := range tests {
		msgs[i] = sdk.Message{ID: "msg_" + string(rune('a'+i)), To: "+959123456789", Text: tt.text}
	}
	results, err := prov.Send(ctx, msgs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(results) != len(msgs) {
		t.Fatalf("Send returned %d results for %d messages", len(results), len(msgs))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.MessageID = msgs[i].ID
			if results[i] != want {
				t.Errorf("result %d = %+v, want %+v", i, results[i], want)
			}
		})
	}
}

func TestSendCarriesEveryMessageField(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	msg := sdk.Message{
		ID: "msg_1", To: "+959123456789", From: "MyShop", Text: "echo",
		Encoding: sdk.EncodingUCS2, Segments: 3, Kind: "otp",
		Metadata:   map[string]string{"order": "42", "tenant": "acme"},
		ValidUntil: time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC),
	}
	results, err := prov.Send(ctx, []sdk.Message{msg})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	var seen sdk.Message
	if err := json.Unmarshal([]byte(results[0].ProviderMessageID), &seen); err != nil {
		t.Fatalf("decoding the plugin's echo %q: %v", results[0].ProviderMessageID, err)
	}
	if !reflect.DeepEqual(seen, msg) {
		t.Errorf("plugin saw %+v, want %+v", seen, msg)
	}
}

func TestSendBatchErrorIsTheProviders(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	_, err := prov.Send(ctx, []sdk.Message{{ID: "msg_1", Text: "batch-error"}})
	const reason = "upstream connection down: dial tcp: connection refused"
	if err == nil || !strings.Contains(err.Error(), reason) {
		t.Fatalf("Send error = %v, want it to contain %q", err, reason)
	}
	if errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Send error %v wraps ErrUnavailable; the plugin answered, so it is the provider's error", err)
	}
}

func TestOptionalCapabilities(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()

	h, err := prov.(sdk.HealthChecker).Health(ctx)
	if err != nil || h != (sdk.Health{OK: true, Detail: "bound 1/1"}) {
		t.Errorf("Health = %+v, %v", h, err)
	}
	ids, err := prov.(sdk.SenderIDLister).SenderIDs(ctx)
	wantIDs := []sdk.SenderID{{Value: "MyShop", Kind: "alphanumeric"}, {Value: "+14155550100", Kind: "number"}}
	if err != nil || !reflect.DeepEqual(ids, wantIDs) {
		t.Errorf("SenderIDs = %+v, %v; want %+v", ids, err, wantIDs)
	}
	statuses, err := prov.(sdk.StatusQuerier).QueryStatus(ctx, []string{"known-1", "other", "known-2"})
	wantStatuses := []sdk.StatusEvent{
		{ProviderMessageID: "known-1", Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD", At: at},
		{ProviderMessageID: "known-2", Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD", At: at},
	}
	if err != nil || !reflect.DeepEqual(statuses, wantStatuses) {
		t.Errorf("QueryStatus = %+v, %v; want %+v", statuses, err, wantStatuses)
	}

	_, err = prov.(sdk.BalanceReporter).Balance(ctx)
	if !errors.Is(err, sdk.ErrUnsupported) || errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Balance on a plugin without BalanceReporter: error %v, want one wrapping only ErrUnsupported", err)
	}
}

func TestEventsAreRedeliveredUntilAcknowledged(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	configure(t, ctx, prov)
	es := prov.(sdk.EventSource)

	// The host fails to store the first event: it must not be acknowledged.
	storeErr := errors.New("database is down")
	var firstTry []string
	err := es.Events(ctx, func(_ context.Context, ev sdk.Event) error {
		firstTry = append(firstTry, ev.ID)
		return storeErr
	})
	if !errors.Is(err, storeErr) {
		t.Fatalf("Events with a failing emit returned %v, want it to wrap %v", err, storeErr)
	}
	if !reflect.DeepEqual(firstTry, []string{"ev-1"}) {
		t.Fatalf("first stream delivered %v, want [ev-1]", firstTry)
	}

	// The next stream gets the same event again, and only once it is stored
	// does the provider's emit return and produce the next one.
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	var got []sdk.Event
	err = es.Events(streamCtx, func(_ context.Context, ev sdk.Event) error {
		got = append(got, ev)
		if len(got) == 2 {
			stop()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Events after cancel returned %v, want nil", err)
	}
	want := []sdk.Event{
		{ID: "ev-1", Status: &sdk.StatusEvent{ProviderMessageID: "pm-1", Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD", ErrorCode: "000", At: at}},
		{ID: "ev-2", Inbound: &sdk.InboundEvent{ProviderMessageID: "mo-1", From: "+959123456789", To: "12345", Text: "hello", At: at}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("second stream delivered %s, want %s", dump(got), dump(want))
	}

	// However often the host opens the stream, the provider's Events runs once.
	var starts int
	hook(t, ctx, prov, &sdk.HookRequest{Path: "/events-starts"}).decode(t, &starts)
	if starts != 1 {
		t.Errorf("provider's Events was started %d times, want 1", starts)
	}
}

// TestEventsAreStoredConcurrentlyInOrderPerMessage checks that the host
// hands events to emit concurrently, so that it can store them together,
// but never two events about one provider message id at once.
func TestEventsAreStoredConcurrentlyInOrderPerMessage(t *testing.T) {
	const unique, same = 50, 10 // the test plugin's "/burst"
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	configure(t, ctx, prov)
	es := prov.(sdk.EventSource)

	var (
		mu                  sync.Mutex
		inFlight, maxFlight int
		sameIn, maxSame     int
		burst               int
	)
	// emit holds the burst's events until unique+1 are in flight at once:
	// every unique one and the first about "same". A host that stored one
	// event at a time never gets there; one that ignored the order per
	// message would have more than one "same" in flight.
	barrier := make(chan struct{})
	var barrierOnce sync.Once
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	streamDone := make(chan error, 1)
	opened := make(chan struct{}) // the plugin's source runs: it emitted ev-2
	go func() {
		streamDone <- es.Events(streamCtx, func(ctx context.Context, ev sdk.Event) error {
			if ev.ID == "ev-2" {
				close(opened)
			}
			if !strings.HasPrefix(ev.ID, "burst-") {
				return nil
			}
			isSame := ev.Status.ProviderMessageID == "same"
			mu.Lock()
			burst++
			inFlight++
			maxFlight = max(maxFlight, inFlight)
			if isSame {
				sameIn++
				maxSame = max(maxSame, sameIn)
			}
			if inFlight >= unique+1 {
				barrierOnce.Do(func() { close(barrier) })
			}
			mu.Unlock()
			defer func() {
				mu.Lock()
				inFlight--
				if isSame {
					sameIn--
				}
				mu.Unlock()
			}()
			select {
			case <-barrier:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()

	select {
	case <-opened:
	case err := <-streamDone:
		t.Fatalf("Events ended before the plugin's first events: %v", err)
	}
	hookCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := prov.(sdk.HookHandler).HandleHook(hookCtx, &sdk.HookRequest{Path: "/burst"}, newRecorder()); err != nil {
		t.Fatalf("burst of events: %v (events in flight at most %d: the host does not store events concurrently)", err, maxFlight)
	}
	stop()
	if err := <-streamDone; err != nil {
		t.Fatalf("Events returned %v, want nil after cancel", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if burst != unique+same {
		t.Errorf("host stored %d burst events, want %d", burst, unique+same)
	}
	if maxFlight < unique+1 {
		t.Errorf("at most %d events were in flight, want at least %d", maxFlight, unique+1)
	}
	if maxSame != 1 {
		t.Errorf("%d events about one provider message id were in flight at once, want 1", maxSame)
	}
}

func TestHookForwarding(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()

	t.Run("events travel before the head", func(t *testing.T) {
		rec := hook(t, ctx, prov, &sdk.HookRequest{Method: "POST", Path: "/status"})
		want := []string{"emit:hook-ev-1", "head:201", "write:ok"}
		if !reflect.DeepEqual(rec.Ops(), want) {
			t.Errorf("writer calls = %q, want %q", rec.Ops(), want)
		}
		if got := rec.Header().Get("X-Test"); got != "yes" {
			t.Errorf("X-Test header = %q, want yes", got)
		}
	})

	t.Run("request reaches the plugin whole", func(t *testing.T) {
		req := &sdk.HookRequest{
			Method:     "POST",
			URL:        "https://gw.example.com/api/v1/providers/t/hooks/status?x=1",
			Path:       "/echo",
			Header:     http.Header{"X-Twilio-Signature": {"abc="}, "Content-Type": {"application/x-www-form-urlencoded"}},
			Body:       []byte("MessageSid=SM1&MessageStatus=delivered"),
			RemoteAddr: "203.0.113.7:4242",
		}
		var echo struct {
			Request sdk.HookRequest `json:"request"`
		}
		hook(t, ctx, prov, req).decode(t, &echo)
		if !reflect.DeepEqual(&echo.Request, req) {
			t.Errorf("plugin saw %+v, want %+v", echo.Request, *req)
		}
	})

	t.Run("handler error keeps its message, not its events", func(t *testing.T) {
		rec := newRecorder()
		err := prov.(sdk.HookHandler).HandleHook(ctx, &sdk.HookRequest{Path: "/fail"}, rec)
		const reason = "signature mismatch: X-Signature does not match the body"
		if err == nil || !strings.Contains(err.Error(), reason) || errors.Is(err, sdk.ErrUnavailable) {
			t.Errorf("HandleHook error = %v, want the provider's %q", err, reason)
		}
		// The host answers the caller with an error, so the caller sends the
		// request again: events emitted before the failure come again then.
		if ops := rec.Ops(); len(ops) != 0 {
			t.Errorf("writer calls = %q, want none", ops)
		}
	})

	t.Run("a panicking handler fails its request, and the plugin keeps serving", func(t *testing.T) {
		rec := newRecorder()
		err := prov.(sdk.HookHandler).HandleHook(ctx, &sdk.HookRequest{Path: "/panic"}, rec)
		if err == nil || !strings.Contains(err.Error(), "HandleHook panicked") {
			t.Errorf("HandleHook error = %v, want one saying the handler panicked", err)
		}
		if ops := rec.Ops(); len(ops) != 0 {
			t.Errorf("writer calls = %q, want none", ops)
		}
		if ops := hook(t, ctx, prov, &sdk.HookRequest{Method: "POST", Path: "/status"}).Ops(); len(ops) == 0 {
			t.Error("the next hook after a panic got no answer: the plugin process did not survive")
		}
	})

	t.Run("handler that writes nothing answers its status", func(t *testing.T) {
		rec := hook(t, ctx, prov, &sdk.HookRequest{Path: "/nowhere"})
		if want := []string{"head:404"}; !reflect.DeepEqual(rec.Ops(), want) {
			t.Errorf("writer calls = %q, want %q", rec.Ops(), want)
		}
	})
}

func TestHookStreamsChunksAsProduced(t *testing.T) {
	ctx := testCtx(t)
	hh := launch(t, sdk.LaunchOptions{}).Provider().(sdk.HookHandler)

	rec := newRecorder()
	done := make(chan error, 1)
	go func() { done <- hh.HandleHook(ctx, &sdk.HookRequest{Path: "/stream"}, rec) }()

	// The handler produces chunk-2 only after /release; if the response were
	// buffered until the handler returned, chunk-1 would never arrive here.
	if got := rec.nextWrite(t, ctx); got != "chunk-1" {
		t.Fatalf("first chunk = %q, want chunk-1", got)
	}
	if err := hh.HandleHook(ctx, &sdk.HookRequest{Path: "/release"}, newRecorder()); err != nil {
		t.Fatalf("releasing the stream: %v", err)
	}
	if got := rec.nextWrite(t, ctx); got != "chunk-2" {
		t.Fatalf("second chunk = %q, want chunk-2", got)
	}
	// The handler's Emit after the response started was refused, and the
	// hook fails even though the handler ignored that error.
	if err := <-done; err == nil || !strings.Contains(err.Error(), sdk.ErrResponseStarted.Error()) {
		t.Fatalf("HandleHook(/stream) = %v, want the refused emit: %v", err, sdk.ErrResponseStarted)
	}
	want := []string{"head:200", "write:chunk-1", "flush", "write:chunk-2", "flush"}
	if !reflect.DeepEqual(rec.Ops(), want) {
		t.Errorf("writer calls = %q, want %q", rec.Ops(), want)
	}
}

func TestHookEndsWhenCallerGoesAway(t *testing.T) {
	ctx := testCtx(t)
	hh := launch(t, sdk.LaunchOptions{}).Provider().(sdk.HookHandler)

	callerCtx, leave := context.WithCancel(ctx)
	defer leave()
	rec := newRecorder()
	done := make(chan error, 1)
	go func() { done <- hh.HandleHook(callerCtx, &sdk.HookRequest{Path: "/hang"}, rec) }()
	rec.nextFlush(t, ctx) // the handler is running and waiting for its ctx

	leave()
	if err := <-done; !errors.Is(err, context.Canceled) || errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("HandleHook after the caller left returned %v, want context.Canceled", err)
	}
	// The plugin's handler saw its ctx end.
	rec2 := hook(t, ctx, hh.(sdk.Provider), &sdk.HookRequest{Path: "/hang-cancelled"})
	if got := rec2.Body(); got != "cancelled" {
		t.Errorf("/hang-cancelled answered %q, want cancelled", got)
	}
}

func TestKilledPluginIsUnavailable(t *testing.T) {
	ctx := testCtx(t)
	p := launch(t, sdk.LaunchOptions{})
	prov := p.Provider()
	configure(t, ctx, prov)

	sendErr := make(chan error, 1)
	go func() {
		_, err := prov.Send(ctx, []sdk.Message{{ID: "msg_1", Text: "block"}})
		sendErr <- err
	}()
	// Wait until the Send is inside the plugin.
	hook(t, ctx, prov, &sdk.HookRequest{Path: "/send-blocked"})

	eventsErr := make(chan error, 1)
	go func() {
		eventsErr <- prov.(sdk.EventSource).Events(ctx, func(context.Context, sdk.Event) error { return nil })
	}()

	proc, err := os.FindProcess(p.PID())
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Signal(os.Kill); err != nil {
		t.Fatalf("killing the plugin: %v", err)
	}

	if err := <-sendErr; !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("in-flight Send after the plugin died returned %v, want ErrUnavailable", err)
	}
	if err := <-eventsErr; !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("open Events after the plugin died returned %v, want ErrUnavailable", err)
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("Done was not closed after the plugin died")
	}
	if !p.Exited() {
		t.Error("Exited() = false after Done was closed")
	}
	if _, err := prov.Send(ctx, []sdk.Message{{ID: "msg_2", Text: `{"outcome":1}`}}); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Send to a dead plugin returned %v, want ErrUnavailable", err)
	}
	if _, err := prov.(sdk.HealthChecker).Health(ctx); !errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Health of a dead plugin returned %v, want ErrUnavailable", err)
	}
}

func TestProviderIsClosedExactlyOnce(t *testing.T) {
	tests := []struct {
		name       string
		closeFirst bool
	}{
		{"host closes, then kills", true},
		{"host only kills", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			logs := newWatcher()
			p := launch(t, sdk.LaunchOptions{Logger: hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info})})
			prov := p.Provider()
			configure(t, ctx, prov)
			if tt.closeFirst {
				if err := prov.Close(ctx); err != nil {
					t.Fatalf("Close: %v", err)
				}
			}
			p.Kill()
			select {
			case <-p.Done():
			default:
				t.Fatal("Done is still open after Kill returned")
			}
			p.Kill() // a second Kill is harmless
			// Kill returns after the plugin's stderr was read to the end.
			if n := strings.Count(logs.String(), "test plugin closed"); n != 1 {
				t.Errorf("provider's Close ran %d times, want 1; host log:\n%s", n, logs.String())
			}
			if _, err := prov.Send(ctx, []sdk.Message{{ID: "msg_1", Text: `{"outcome":1}`}}); !errors.Is(err, sdk.ErrUnavailable) {
				t.Errorf("Send after Kill returned %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestLaunchFailures(t *testing.T) {
	tests := []struct {
		name string
		cmd  func(t *testing.T) *exec.Cmd
		opts sdk.LaunchOptions
		want []string // substrings of the error
	}{
		{
			name: "process complains and exits",
			cmd: func(*testing.T) *exec.Cmd {
				return exec.Command("sh", "-c", "echo 'oops: config file missing' >&2; exit 3")
			},
			want: []string{"oops: config file missing", "sh -c"},
		},
		{
			name: "process prints garbage instead of the handshake",
			cmd: func(*testing.T) *exec.Cmd {
				return exec.Command("sh", "-c", "echo complaint-on-stderr >&2; echo garbage-line")
			},
			want: []string{"garbage-line", "complaint-on-stderr"},
		},
		{
			name: "binary does not exist",
			cmd: func(t *testing.T) *exec.Cmd {
				return exec.Command(filepath.Join(t.TempDir(), "no-such-plugin"))
			},
			want: []string{"no-such-plugin"},
		},
		{
			name: "checksum does not match",
			cmd:  func(*testing.T) *exec.Cmd { return exec.Command(testPluginPath) },
			opts: sdk.LaunchOptions{Checksum: bytes.Repeat([]byte{0xab}, 32)},
			want: []string{"refusing to run it", "abababab"},
		},
		{
			name: "stdout already taken",
			cmd: func(*testing.T) *exec.Cmd {
				c := exec.Command(testPluginPath)
				c.Stdout = new(bytes.Buffer)
				return c
			},
			want: []string{"leave cmd.Stdout and cmd.Stderr unset"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := sdk.Launch(tt.cmd(t), tt.opts)
			if err == nil {
				p.Kill()
				t.Fatal("Launch succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Launch error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLaunchWithoutMTLS(t *testing.T) {
	ctx := testCtx(t)
	p := launch(t, sdk.LaunchOptions{DisableAutoMTLS: true})
	if _, err := p.Provider().(sdk.HealthChecker).Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

// hook runs one hook request that must succeed and returns what was written.
func hook(t *testing.T, ctx context.Context, prov sdk.Provider, req *sdk.HookRequest) *recorder {
	t.Helper()
	rec := newRecorder()
	if err := prov.(sdk.HookHandler).HandleHook(ctx, req, rec); err != nil {
		t.Fatalf("HandleHook(%s): %v", req.Path, err)
	}
	return rec
}

// recorder is a HookResponseWriter that remembers every call in order and
// reports writes and flushes as they happen.
type recorder struct {
	header  http.Header
	writes  chan string
	flushes chan struct{}

	mu   sync.Mutex
	ops  []string
	body bytes.Buffer
}

func newRecorder() *recorder {
	return &recorder{header: make(http.Header), writes: make(chan string, 16), flushes: make(chan struct{}, 16)}
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) record(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

func (r *recorder) WriteHeader(status int) { r.record("head:" + strconv.Itoa(status)) }

func (r *recorder) Write(p []byte) (int, error) {
	r.record("write:" + string(p))
	r.mu.Lock()
	r.body.Write(p)
	r.mu.Unlock()
	r.writes <- string(p)
	return len(p), nil
}

func (r *recorder) Flush() error {
	r.record("flush")
	r.flushes <- struct{}{}
	return nil
}

func (r *recorder) Emit(events ...sdk.Event) error {
	for _, ev := range events {
		r.record("emit:" + ev.ID)
	}
	return nil
}

func (r *recorder) Ops() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ops...)
}

func (r *recorder) Body() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.body.String()
}

func (r *recorder) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.Body()), v); err != nil {
		t.Fatalf("decoding hook answer %q: %v", r.Body(), err)
	}
}

func (r *recorder) nextWrite(t *testing.T, ctx context.Context) string {
	t.Helper()
	select {
	case s := <-r.writes:
		return s
	case <-ctx.Done():
		t.Fatalf("no write arrived; calls so far: %q", r.Ops())
		return ""
	}
}

func (r *recorder) nextFlush(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case <-r.flushes:
	case <-ctx.Done():
		t.Fatalf("no flush arrived; calls so far: %q", r.Ops())
	}
}

// watcher is a log sink that signals once everything it waits for appeared.
type watcher struct {
	wants []string
	found chan struct{}

	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
}

func newWatcher(wants ...string) *watcher {
	return &watcher{wants: wants, found: make(chan struct{})}
}

func (w *watcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, s := range w.wants {
		if !strings.Contains(w.buf.String(), s) {
			return len(p), nil
		}
	}
	w.once.Do(func() { close(w.found) })
	return len(p), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
