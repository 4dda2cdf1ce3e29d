package android_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const privateToken = "test-private-token-0123456789"

// gateway is a configured provider behind a real HTTP hook server.
type gateway struct {
	p    *android.Provider
	host *hookHost
}

func newGateway(t *testing.T, extra string) *gateway {
	t.Helper()
	p := android.New()
	host := newHookHost(t, p)
	settings := fmt.Sprintf(`{"private_token":%q,"keepalive":"50ms"%s}`, privateToken, extra)
	if err := p.Configure(context.Background(), sdk.Config{Name: "android-test", Settings: json.RawMessage(settings), HookURL: host.URL()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &gateway{p: p, host: host}
}

// connect registers a phone and runs it until the test ends.
func (g *gateway) connect(t *testing.T, ph *testPhone) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := ph.Register(ctx, privateToken); err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := ph.Run(ctx, connected); err != nil && ctx.Err() == nil {
			t.Errorf("phone %s: %v", ph.name, err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("phone did not connect")
	}
}

func msg(id, to string) sdk.Message {
	return sdk.Message{ID: id, To: to, Text: "hello " + id, Encoding: sdk.EncodingGSM7, Segments: 1}
}

func TestSendThroughAPhone(t *testing.T) {
	g := newGateway(t, "")
	ph := newTestPhone(g.host.URL(), "pixel")
	ph.Deliver = true
	g.connect(t, ph)

	res, err := g.p.Send(context.Background(), []sdk.Message{msg("msg_1", "+959791234567"), msg("msg_2", "+959791234568")})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome != sdk.Accepted || r.ProviderMessageID != fmt.Sprintf("msg_%d", i+1) {
			t.Errorf("result %d = %+v, want accepted under the host's id", i, r)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	want := map[string]bool{"msg_1/sent": true, "msg_1/delivered": true, "msg_2/sent": true, "msg_2/delivered": true}
	if !g.host.waitFor(ctx, func(evs []sdk.Event) bool { return hasEvents(evs, want) }) {
		t.Fatalf("events = %v, want %v", eventIDs(g.host.stored()), want)
	}
	got := ph.Got()
	if len(got) != 2 || got[0].TextMessage == nil || got[0].WithDeliveryReport == nil || !*got[0].WithDeliveryReport {
		t.Errorf("phone got %+v", got)
	}

	// The same message again: the phone took it already, it is not given twice.
	again, err := g.p.Send(context.Background(), []sdk.Message{msg("msg_1", "+959791234567")})
	if err != nil || again[0].Outcome != sdk.Accepted || len(ph.Got()) != 2 {
		t.Errorf("resend = %+v, %v; phone got %d messages", again, err, len(ph.Got()))
	}
	h, _ := g.p.Health(context.Background())
	if !h.OK || !strings.Contains(h.Detail, "1 of 1 phones online") || !strings.Contains(h.Detail, "pixel") {
		t.Errorf("health = %+v", h)
	}
}

func hasEvents(evs []sdk.Event, want map[string]bool) bool {
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.ID] = true
	}
	for id := range want {
		if !seen[id] {
			return false
		}
	}
	return true
}

func eventIDs(evs []sdk.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

func TestNoPhoneOnline(t *testing.T) {
	cases := []struct {
		name     string
		settings string
		within   time.Duration
		refuse   bool // the host is asked to refuse at accept while down
	}{
		{"refuse answers at once", `,"when_offline":"refuse","lease":"5s"`, 2 * time.Second, true},
		{"queue waits for the lease", `,"lease":"200ms"`, 3 * time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t, c.settings)
			start := time.Now()
			res, err := g.p.Send(context.Background(), []sdk.Message{msg("msg_1", "+959791234567")})
			if err != nil {
				t.Fatal(err)
			}
			if r := res[0]; r.Outcome != sdk.OutcomeUnavailable || r.Reason != "No gateway online" || r.Code != "NO_GATEWAY" {
				t.Errorf("result = %+v", r)
			}
			if d := time.Since(start); d > c.within {
				t.Errorf("answered after %s", d)
			}
			h, _ := g.p.Health(context.Background())
			if h.OK || !strings.HasPrefix(h.Detail, "No gateway online") || h.RefuseWhileDown != c.refuse {
				t.Errorf("health = %+v", h)
			}
		})
	}
}

func TestMessageWaitsForAPhoneToConnect(t *testing.T) {
	g := newGateway(t, `,"lease":"20s"`)
	done := make(chan []sdk.SendResult, 1)
	go func() {
		res, _ := g.p.Send(context.Background(), []sdk.Message{msg("msg_w", "+959791234567")})
		done <- res
	}()
	ph := newTestPhone(g.host.URL(), "late")
	g.connect(t, ph)
	select {
	case res := <-done:
		if res[0].Outcome != sdk.Accepted {
			t.Errorf("result = %+v", res[0])
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the message did not go to the phone that connected")
	}
}

func TestSilentPhoneLosesTheMessage(t *testing.T) {
	g := newGateway(t, `,"lease":"300ms"`)
	ph := newTestPhone(g.host.URL(), "silent")
	ph.Silent = true
	g.connect(t, ph)
	res, err := g.p.Send(context.Background(), []sdk.Message{msg("msg_s", "+959791234567")})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Outcome != sdk.OutcomeUnavailable || r.Code != "LEASE_EXPIRED" || !strings.Contains(r.Reason, "silent") {
		t.Errorf("result = %+v", r)
	}
	// Suspect now: the next message is not offered to it.
	h, _ := g.p.Health(context.Background())
	if h.OK {
		t.Errorf("health after a lease ran out = %+v", h)
	}
}

func TestPhoneFailure(t *testing.T) {
	cases := []struct {
		err    string
		status sdk.Status
		code   string
	}{
		{"Send result: RESULT_ERROR_GENERIC_FAILURE (Generic failure cause)", sdk.StatusFailed, "RESULT_ERROR_GENERIC_FAILURE"},
		{"TTL expired", sdk.StatusExpired, "EXPIRED"},
	}
	for i, c := range cases {
		t.Run(c.err, func(t *testing.T) {
			g := newGateway(t, "")
			ph := newTestPhone(g.host.URL(), "pixel")
			ph.Fail = c.err
			g.connect(t, ph)
			id := fmt.Sprintf("msg_f%d", i)
			res, err := g.p.Send(context.Background(), []sdk.Message{msg(id, "+959791234567")})
			if err != nil || res[0].Outcome != sdk.Accepted {
				t.Fatalf("send = %+v, %v", res, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var got *sdk.StatusEvent
			g.host.waitFor(ctx, func(evs []sdk.Event) bool {
				for _, e := range evs {
					if e.ID == id+"/failed" {
						got = e.Status
						return true
					}
				}
				return false
			})
			if got == nil || got.Status != c.status || got.ErrorCode != c.code {
				t.Errorf("failure event = %+v", got)
			}
		})
	}
}

func TestSendCancelled(t *testing.T) {
	g := newGateway(t, `,"lease":"30s"`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := g.p.Send(ctx, []sdk.Message{msg("msg_c", "+959791234567")})
	if err != nil || res[0].Outcome != sdk.Temporary {
		t.Errorf("send = %+v, %v", res, err)
	}
	if errors.Is(err, context.Canceled) {
		t.Error("whole-batch error")
	}
}

func TestMobileAPIRefusals(t *testing.T) {
	g := newGateway(t, "")
	ph := newTestPhone(g.host.URL(), "pixel")
	if err := ph.Register(context.Background(), privateToken); err != nil {
		t.Fatal(err)
	}
	_, token := ph.creds()
	cases := []struct {
		name, method, path, token, body string
		status                          int
		contains                        string
	}{
		{"register without token", http.MethodPost, "/mobile/v1/device", "", `{"name":"x"}`, 401, "private token"},
		{"register with wrong token", http.MethodPost, "/mobile/v1/device", "wrong-token-wrong-token", `{"name":"x"}`, 401, "private token"},
		{"register malformed", http.MethodPost, "/mobile/v1/device", privateToken, `{"name":`, 400, "malformed JSON"},
		{"register wrong type", http.MethodPost, "/mobile/v1/device", privateToken, `{"name":5}`, 400, "field name"},
		{"pull without token", http.MethodGet, "/mobile/v1/message", "", "", 401, "device token"},
		{"pull with unknown token", http.MethodGet, "/mobile/v1/message", "nope", "", 401, "device token"},
		{"patch malformed", http.MethodPatch, "/mobile/v1/message", token, `[{"id":"x","states":{"Sent":"yesterday"}}]`, 400, "malformed"},
		{"patch without id", http.MethodPatch, "/mobile/v1/message", token, `[{"state":"Sent"}]`, 400, "id: required"},
		{"patch never given", http.MethodPatch, "/mobile/v1/message", token, `[{"id":"msg_other","state":"Sent","recipients":[{"phoneNumber":"+1","state":"Sent"}]}]`, 204, ""},
		{"unknown mobile call", http.MethodGet, "/mobile/v1/inbox", token, "", 404, "not part of the mobile API"},
		{"unknown path", http.MethodGet, "/elsewhere", "", "", 404, "no such path"},
		{"webhook unsigned", http.MethodPost, "/webhook", "", `{"deviceId":"x","event":"sms:received","payload":{}}`, 401, "signature"},
		{"admin off", http.MethodGet, "/admin/devices", "", "", 404, "admin_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, g.host.URL()+c.path, strings.NewReader(c.body))
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]string
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != c.status || !strings.Contains(body["error"], c.contains) {
				t.Errorf("%d %v, want %d containing %q", resp.StatusCode, body, c.status, c.contains)
			}
		})
	}
	if evs := g.host.stored(); len(evs) != 0 {
		t.Errorf("refused calls stored events %v", eventIDs(evs))
	}
}
