package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { plugins.Close() }))
}

// plugins builds the plugin binaries the tests run, once per test run.
var plugins providertest.Builder

// pluginBinary returns the sandbox plugin binary.
func pluginBinary(t *testing.T) string {
	t.Helper()
	return plugins.Build(t, "./testdata/sandboxplugin")
}

// badSettings are configurations Configure must refuse, with the field the
// error has to name.
var badSettings = []struct {
	name, settings, field string
}{
	{"unknown key", `{"latency":"1s"}`, "setting latency: unknown setting"},
	{"latency not a duration", `{"accept_latency":"soon"}`, "accept_latency"},
	{"latency negative", `{"accept_latency":"-1s"}`, "accept_latency"},
	{"latency too long", `{"accept_latency":"2h"}`, "accept_latency"},
	{"latency wrong type", `{"accept_latency":20}`, "accept_latency"},
	{"failure ratio above 1", `{"failure_ratio":1.5}`, "failure_ratio"},
	{"reject ratio negative", `{"reject_ratio":-0.1}`, "reject_ratio"},
	{"ratios sum above 1", `{"failure_ratio":0.6,"reject_ratio":0.6}`, "failure_ratio and reject_ratio"},
	{"delivery ratio above 1", `{"delivery_ratio":2}`, "delivery_ratio"},
	{"dlr delay negative", `{"dlr_delay":"-5ms"}`, "dlr_delay"},
	{"currency lower case", `{"balance":{"amount":1,"currency":"usd"}}`, "balance.currency"},
	{"balance unknown key", `{"balance":{"amount":1,"curency":"USD"}}`, "setting balance.curency: unknown setting (the settings in balance are amount, currency)"},
	{"sender empty", `{"sender_ids":[""]}`, "sender_ids[0]"},
	{"sender too long", `{"sender_ids":["OK","ThisNameIsTooLong"]}`, "sender_ids[1]"},
	{"sender bad number", `{"sender_ids":["+12ab"]}`, "sender_ids[0]"},
	{"batch size zero", `{"max_batch_size":0}`, "max_batch_size"},
	{"batch size huge", `{"max_batch_size":1000000}`, "max_batch_size"},
	{"reject number not e164", `{"reject_numbers":["4155550100"]}`, "reject_numbers[0]"},
	{"seed not integer", `{"seed":1.5}`, "seed"},
	{"receipts dir relative", `{"receipts_dir":"receipts"}`, "receipts_dir"},
	{"dedupe without receipts dir", `{"dedupe_by_message_id":true}`, "dedupe_by_message_id"},
	{"not an object", `[1,2]`, "settings"},
	{"trailing data", `{} {}`, "after the settings object"},
}

func conformanceTarget(t *testing.T) providertest.Target {
	good, err := os.ReadFile(filepath.Join("testdata", "conformance.json"))
	if err != nil {
		t.Fatal(err)
	}
	var bad []json.RawMessage
	for _, b := range badSettings[:4] { // the kit only checks for an error; TestConfigureRejectsBadSettings checks the messages
		bad = append(bad, json.RawMessage(b.settings))
	}
	return providertest.Target{
		Name:          "sandbox",
		Settings:      good,
		BadSettings:   bad,
		ExpectReports: true,
		ReportTimeout: 5 * time.Second,
	}
}

func TestConformance(t *testing.T) {
	target := conformanceTarget(t)
	target.New = func() sdk.Provider { return sandbox.New() }
	providertest.Run(t, target)
}

// TestConformanceBinary runs the sandbox behind the plugin boundary, as the
// host does, through a plugin binary built from testdata.
func TestConformanceBinary(t *testing.T) {
	bin := pluginBinary(t)
	target := conformanceTarget(t)
	target.Command = func() *exec.Cmd { return exec.Command(bin) }
	// Keep the default max_batch_size here: TestBinaryBatchSizeFollowsSettings
	// covers a configured one across the boundary.
	var doc map[string]any
	var err error
	if err = json.Unmarshal(target.Settings, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc, "max_batch_size")
	if target.Settings, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	providertest.Run(t, target)
}

// TestBinaryBatchSizeFollowsSettings checks that the host learns the batch
// size the sandbox was configured with, not the default it reported at launch.
func TestBinaryBatchSizeFollowsSettings(t *testing.T) {
	bin := pluginBinary(t)
	plugin, err := sdk.Launch(exec.Command(bin), sdk.LaunchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer plugin.Kill()
	p := plugin.Provider()
	if err := p.Configure(t.Context(), sdk.Config{Name: "sbx-batch", Settings: json.RawMessage(`{"max_batch_size":25}`)}); err != nil {
		t.Fatal(err)
	}
	// The host adapter asks for the plugin's metadata again after
	// Configure, so it sees the configured size, not the launch default.
	if got := sdk.CapabilitiesOf(p).MaxBatchSize; got != 25 {
		t.Fatalf("host sees MaxBatchSize %d after Configure set 25", got)
	}
	if _, err := p.Send(t.Context(), messages("msg_batch_", 25)); err != nil {
		t.Errorf("Send of a full configured batch: %v", err)
	}
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	for _, tc := range badSettings {
		t.Run(tc.name, func(t *testing.T) {
			p := sandbox.New()
			defer p.Close(context.Background())
			err := p.Configure(t.Context(), sdk.Config{Name: "sbx-1", Settings: json.RawMessage(tc.settings)})
			if err == nil {
				t.Fatalf("Configure accepted %s", tc.settings)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), `"sbx-1"`) {
				t.Errorf("error %q does not name the provider", err)
			}
		})
	}
}

func TestConfigureAppliesSettings(t *testing.T) {
	tests := []struct {
		name      string
		settings  string
		balance   sdk.Balance
		senders   []sdk.SenderID
		batchSize int
	}{
		{"empty", ``, sdk.Balance{Amount: 100, Currency: "USD"}, []sdk.SenderID{{Value: "SANDBOX", Kind: "alphanumeric"}}, 100},
		{"null", `null`, sdk.Balance{Amount: 100, Currency: "USD"}, []sdk.SenderID{{Value: "SANDBOX", Kind: "alphanumeric"}}, 100},
		{"empty object", `{}`, sdk.Balance{Amount: 100, Currency: "USD"}, []sdk.SenderID{{Value: "SANDBOX", Kind: "alphanumeric"}}, 100},
		{
			"sender kinds",
			`{"sender_ids":["123456","1234567","+959123456789","MyShop"],"balance":{"amount":-3.5,"currency":"MMK"},"max_batch_size":7}`,
			sdk.Balance{Amount: -3.5, Currency: "MMK"},
			[]sdk.SenderID{
				{Value: "123456", Kind: "shortcode"},
				{Value: "1234567", Kind: "alphanumeric"},
				{Value: "+959123456789", Kind: "number"},
				{Value: "MyShop", Kind: "alphanumeric"},
			},
			7,
		},
		{"no senders", `{"sender_ids":[]}`, sdk.Balance{Amount: 100, Currency: "USD"}, []sdk.SenderID{}, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := configured(t, tc.settings)
			b, err := p.Balance(t.Context())
			if err != nil || b != tc.balance {
				t.Errorf("Balance = %+v, %v; want %+v", b, err, tc.balance)
			}
			ids, err := p.SenderIDs(t.Context())
			if err != nil || fmt.Sprint(ids) != fmt.Sprint(tc.senders) {
				t.Errorf("SenderIDs = %+v, %v; want %+v", ids, err, tc.senders)
			}
			if got := p.Info().MaxBatchSize; got != tc.batchSize {
				t.Errorf("MaxBatchSize = %d; want %d", got, tc.batchSize)
			}
			h, err := p.Health(t.Context())
			if err != nil || !h.OK {
				t.Errorf("Health = %+v, %v; want OK", h, err)
			}
		})
	}
}

// configured returns a provider configured with settings, closed at the end
// of the test.
func configured(t *testing.T, settings string) *sandbox.Provider {
	t.Helper()
	p := sandbox.New()
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := p.Configure(t.Context(), sdk.Config{Name: "sbx-test", Settings: json.RawMessage(settings), Logger: hclog.NewNullLogger()}); err != nil {
		t.Fatalf("Configure(%s): %v", settings, err)
	}
	return p
}

func messages(prefix string, n int) []sdk.Message {
	msgs := make([]sdk.Message, n)
	for i := range msgs {
		msgs[i] = sdk.Message{
			ID:       fmt.Sprintf("%s%05d", prefix, i),
			To:       fmt.Sprintf("+4915100%05d", i),
			Text:     "hello",
			Encoding: sdk.EncodingGSM7,
			Segments: 1,
		}
	}
	return msgs
}

// fateView is what must repeat for the same seed and message id.
type fateView struct {
	result sdk.SendResult
	final  sdk.StatusEvent
}

// sendAll sends msgs in batches of batchSize from parallel goroutines and
// returns every message's result and, for accepted ones, its final status.
func sendAll(t *testing.T, p *sandbox.Provider, msgs []sdk.Message, batchSize int) map[string]fateView {
	t.Helper()
	var (
		mu  sync.Mutex
		out = map[string]fateView{}
		wg  sync.WaitGroup
	)
	for start := 0; start < len(msgs); start += batchSize {
		batch := msgs[start:min(start+batchSize, len(msgs))]
		wg.Go(func() {
			results, err := p.Send(t.Context(), batch)
			if err != nil {
				t.Errorf("Send: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range results {
				out[r.MessageID] = fateView{result: r}
			}
		})
	}
	wg.Wait()
	var ids []string
	for _, v := range out {
		if v.result.Outcome == sdk.Accepted {
			ids = append(ids, v.result.ProviderMessageID)
		}
	}
	finals, err := p.QueryStatus(t.Context(), ids)
	if err != nil {
		t.Fatalf("QueryStatus: %v", err)
	}
	byProviderID := map[string]sdk.StatusEvent{}
	for _, f := range finals {
		f.At = time.Time{} // wall-clock time differs between runs
		byProviderID[f.ProviderMessageID] = f
	}
	for id, v := range out {
		if v.result.Outcome == sdk.Accepted {
			v.final = byProviderID[v.result.ProviderMessageID]
			// The id embeds the acceptance time, which differs between
			// runs; the rest of it must repeat.
			v.result.ProviderMessageID = withoutTime(v.result.ProviderMessageID)
			v.final.ProviderMessageID = v.result.ProviderMessageID
			out[id] = v
		}
	}
	return out
}

// withoutTime drops the acceptance-time field of a sandbox provider id
// ("sbx-<fate>-<attempt>-<time>-<message id>").
func withoutTime(id string) string {
	parts := strings.SplitN(id, "-", 5)
	if len(parts) != 5 {
		return id
	}
	parts[3] = "T"
	return strings.Join(parts, "-")
}

const mixedSettings = `{"seed":%d,"failure_ratio":0.2,"reject_ratio":0.1,"delivery_ratio":0.7,"dlr_delay":"0s","max_batch_size":1000}`

func TestSameSeedSameFates(t *testing.T) {
	msgs := messages("msg_seed_", 300)
	a := sendAll(t, configured(t, fmt.Sprintf(mixedSettings, 7)), msgs, 300)
	b := sendAll(t, configured(t, fmt.Sprintf(mixedSettings, 7)), msgs, 7)
	c := sendAll(t, configured(t, fmt.Sprintf(mixedSettings, 8)), msgs, 50)
	differ := 0
	for _, m := range msgs {
		if a[m.ID] != b[m.ID] {
			t.Errorf("message %s: seed 7 gave %+v in one batch and %+v in batches of 7", m.ID, a[m.ID], b[m.ID])
		}
		if a[m.ID] != c[m.ID] {
			differ++
		}
	}
	if differ < len(msgs)/4 {
		t.Errorf("seeds 7 and 8 gave different fates for only %d of %d messages", differ, len(msgs))
	}
}

func TestRatiosRoughlyHonoured(t *testing.T) {
	tests := []struct {
		failure, reject, delivery float64
	}{
		{0, 0, 1},
		{0.2, 0.1, 0.7},
		{0.5, 0.5, 0},
		{0.05, 0, 0.95},
		{1, 0, 1},
	}
	const n = 1000
	for _, tc := range tests {
		t.Run(fmt.Sprintf("failure=%v,reject=%v,delivery=%v", tc.failure, tc.reject, tc.delivery), func(t *testing.T) {
			p := configured(t, fmt.Sprintf(`{"seed":1,"failure_ratio":%v,"reject_ratio":%v,"delivery_ratio":%v,"dlr_delay":"0s","max_batch_size":1000}`,
				tc.failure, tc.reject, tc.delivery))
			fates := sendAll(t, p, messages("msg_ratio_", n), 1000)
			var temporary, permanent, accepted, delivered int
			for _, f := range fates {
				switch f.result.Outcome {
				case sdk.Temporary:
					temporary++
					if f.result.Code != "THROTTLED" || f.result.RetryAfter <= 0 {
						t.Errorf("temporary result %+v; want code THROTTLED with RetryAfter", f.result)
					}
				case sdk.Permanent:
					permanent++
				case sdk.Accepted:
					accepted++
					switch f.final.Status {
					case sdk.StatusDelivered:
						delivered++
					case sdk.StatusUndeliverable:
						if f.final.ErrorCode == "" {
							t.Errorf("undeliverable report without an error code: %+v", f.final)
						}
					default:
						t.Errorf("final status %q; want delivered or undeliverable", f.final.Status)
					}
				}
			}
			near := func(what string, got int, of int, ratio float64) {
				t.Helper()
				want := ratio * float64(of)
				if tolerance := 0.05*float64(of) + 1; float64(got) < want-tolerance || float64(got) > want+tolerance {
					t.Errorf("%s: %d of %d; want about %.0f", what, got, of, want)
				}
			}
			near("temporary", temporary, n, tc.failure)
			near("permanent", permanent, n, tc.reject)
			near("delivered", delivered, accepted, tc.delivery)
		})
	}
}

func TestRejectNumbersAndInvalidDestinations(t *testing.T) {
	p := configured(t, `{"reject_numbers":["+14155550999"],"dlr_delay":"0s"}`)
	msgs := []sdk.Message{
		{ID: "msg_1", To: "+14155550999"},
		{ID: "msg_2", To: "+14155550100"},
		{ID: "msg_3", To: "4155550100"},
		{ID: "msg_4", To: ""},
	}
	results, err := p.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Outcome{sdk.Permanent, sdk.Accepted, sdk.Permanent, sdk.Permanent}
	for i, r := range results {
		if r.Outcome != want[i] {
			t.Errorf("%s to %q: outcome %s; want %s", r.MessageID, msgs[i].To, r.Outcome, want[i])
		}
		if r.Outcome == sdk.Permanent && (r.Code != "INVALID_DESTINATION" || !strings.Contains(r.Reason, "invalid destination")) {
			t.Errorf("%s: code %q reason %q; want INVALID_DESTINATION / invalid destination", r.MessageID, r.Code, r.Reason)
		}
		if r.Outcome == sdk.Accepted && !strings.HasPrefix(r.ProviderMessageID, "sbx-") {
			t.Errorf("%s: provider id %q; want sbx-<hex>", r.MessageID, r.ProviderMessageID)
		}
	}
}

func TestThrottledMessageGetsAFreshDrawWhenRetried(t *testing.T) {
	p := configured(t, `{"failure_ratio":0.5,"seed":3}`)
	msg := []sdk.Message{{ID: "msg_retry", To: "+14155550100"}}
	var outcomes []sdk.Outcome
	for range 64 {
		res, err := p.Send(t.Context(), msg)
		if err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, res[0].Outcome)
		if res[0].Outcome == sdk.Accepted {
			return
		}
	}
	t.Fatalf("a message at failure_ratio 0.5 was throttled on all %d attempts: %v", len(outcomes), outcomes)
}

func TestResendOfAcceptedMessageReportsOnce(t *testing.T) {
	p := configured(t, `{"dlr_delay":"0s"}`)
	msg := []sdk.Message{{ID: "msg_dup", To: "+14155550100"}}
	first, err := p.Send(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Send(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if first[0] != second[0] {
		t.Fatalf("resend answered %+v, first send %+v; want the same answer", second[0], first[0])
	}
	evs := collectEvents(t, p, 1, nil)
	if len(evs) != 1 {
		t.Fatalf("got %d events; want 1", len(evs))
	}
}

// collectEvents runs Events until want events were stored, refusing the
// emits refuse says to, then stops it and returns what was stored.
func collectEvents(t *testing.T, p *sandbox.Provider, want int, refuse func(sdk.Event) bool) []sdk.Event {
	t.Helper()
	var (
		mu   sync.Mutex
		got  []sdk.Event
		full = make(chan struct{})
	)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- p.Events(ctx, func(ctx context.Context, ev sdk.Event) error {
			if refuse != nil && refuse(ev) {
				return errors.New("store unavailable")
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ev)
			if len(got) == want {
				close(full)
			}
			return nil
		})
	}()
	select {
	case <-full:
	case <-time.After(5 * time.Second):
		t.Errorf("only %d of %d events within 5s", len(got), want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Events: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]sdk.Event(nil), got...)
}

func TestRefusedEventsAreRetriedNotLost(t *testing.T) {
	p := configured(t, `{"dlr_delay":"0s","delivery_ratio":0.5}`)
	results, err := p.Send(t.Context(), messages("msg_refuse_", 5))
	if err != nil {
		t.Fatal(err)
	}
	refusals := map[string]int{}
	var mu sync.Mutex
	evs := collectEvents(t, p, len(results), func(ev sdk.Event) bool {
		mu.Lock()
		defer mu.Unlock()
		refusals[ev.ID]++
		return refusals[ev.ID] <= 2 // every event is refused twice first
	})
	seen := map[string]bool{}
	for _, ev := range evs {
		if seen[ev.ID] {
			t.Errorf("event %s stored twice", ev.ID)
		}
		seen[ev.ID] = true
		if !strings.HasSuffix(ev.ID, ":"+string(ev.Status.Status)) || !strings.HasPrefix(ev.ID, ev.Status.ProviderMessageID) {
			t.Errorf("event id %q is not <provider id>:<status> for %+v", ev.ID, *ev.Status)
		}
	}
	for _, r := range results {
		if !seen[r.ProviderMessageID+":delivered"] && !seen[r.ProviderMessageID+":undeliverable"] {
			t.Errorf("no event for %s (%s)", r.MessageID, r.ProviderMessageID)
		}
	}
}

func TestQueryStatusFollowsDLRDelay(t *testing.T) {
	tests := []struct {
		settings string
		want     sdk.Status
	}{
		{`{"dlr_delay":"1h"}`, sdk.StatusSent},
		{`{"dlr_delay":"0s"}`, sdk.StatusDelivered},
		{`{"dlr_delay":"0s","delivery_ratio":0}`, sdk.StatusUndeliverable},
	}
	for _, tc := range tests {
		t.Run(tc.settings, func(t *testing.T) {
			p := configured(t, tc.settings)
			res, err := p.Send(t.Context(), []sdk.Message{{ID: "msg_q", To: "+14155550100"}})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := p.QueryStatus(t.Context(), []string{res[0].ProviderMessageID, "sbx-unknown"})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 || evs[0].Status != tc.want || evs[0].ProviderMessageID != res[0].ProviderMessageID {
				t.Errorf("QueryStatus = %+v; want one %s report for %s", evs, tc.want, res[0].ProviderMessageID)
			}
		})
	}
}

func TestSendRefusals(t *testing.T) {
	unconfigured := sandbox.New()
	defer unconfigured.Close(context.Background())
	if _, err := unconfigured.Send(t.Context(), messages("m", 1)); err == nil {
		t.Error("Send before Configure succeeded")
	}

	p := configured(t, `{"max_batch_size":2}`)
	if _, err := p.Send(t.Context(), messages("m", 3)); err == nil || !strings.Contains(err.Error(), "max_batch_size") {
		t.Errorf("oversized batch: err = %v; want one naming max_batch_size", err)
	}

	closed := configured(t, `{}`)
	if err := closed.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := closed.Send(t.Context(), messages("m", 1)); err == nil {
		t.Error("Send after Close succeeded")
	}
	if h, _ := closed.Health(t.Context()); h.OK {
		t.Error("Health after Close is OK")
	}
}

func TestSendLatencyWaitEndsOnCancelAndClose(t *testing.T) {
	tests := []struct {
		name string
		stop func(cancel context.CancelFunc, p *sandbox.Provider)
	}{
		{"cancel", func(cancel context.CancelFunc, _ *sandbox.Provider) { cancel() }},
		{"close", func(_ context.CancelFunc, p *sandbox.Provider) { p.Close(context.Background()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := configured(t, `{"accept_latency":"1m"}`)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			type answer struct {
				res []sdk.SendResult
				err error
			}
			done := make(chan answer, 1)
			go func() {
				res, err := p.Send(ctx, messages("msg_slow_", 3))
				done <- answer{res, err}
			}()
			tc.stop(cancel, p)
			select {
			case a := <-done:
				if a.err == nil {
					t.Errorf("Send returned %+v after %s; want an error", a.res, tc.name)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Send still waiting 5s after %s", tc.name)
			}
		})
	}
}

func TestCloseStopsEvents(t *testing.T) {
	p := sandbox.New()
	if err := p.Configure(t.Context(), sdk.Config{Name: "sbx", Settings: json.RawMessage(`{"dlr_delay":"1h"}`), Logger: hclog.NewNullLogger()}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(t.Context(), messages("msg_pending_", 2)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		done <- p.Events(context.Background(), func(context.Context, sdk.Event) error { return nil })
	}()
	<-started
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Events still running 5s after Close")
	}
	if err := p.Events(t.Context(), func(context.Context, sdk.Event) error { return nil }); err == nil {
		t.Error("Events after Close returned nil; want an error")
	}
}

// A restarted plugin process has lost its memory, but must still answer for
// messages the previous process accepted, so the host can recover reports
// that died with it.
func TestQueryStatusAnswersForAnEarlierProcess(t *testing.T) {
	const settings = `{"dlr_delay":"0s","delivery_ratio":0.5,"seed":9}`
	before := configured(t, settings)
	msgs := messages("msg_restart", 20)
	res, err := before.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(res))
	for i, r := range res {
		ids[i] = r.ProviderMessageID
	}
	want, err := before.QueryStatus(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}

	after := configured(t, settings)
	got, err := after.QueryStatus(t.Context(), append(ids, "sbx-0000000000000000-0-abc-msg_forged"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("after a restart QueryStatus answered %d of %d ids (forged id must be ignored)", len(got), len(want))
	}
	for i := range want {
		if got[i].Status != want[i].Status || got[i].ErrorCode != want[i].ErrorCode || got[i].ProviderMessageID != want[i].ProviderMessageID {
			t.Errorf("id %s: after restart %+v, before %+v", ids[i], got[i], want[i])
		}
	}

	other := configured(t, `{"dlr_delay":"0s","seed":10}`)
	if evs, _ := other.QueryStatus(t.Context(), ids); len(evs) != 0 {
		t.Errorf("a sandbox with another seed recognised %d ids it never issued", len(evs))
	}
}
