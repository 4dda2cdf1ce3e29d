package android_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

// kitPhone is a phone registered before the kit starts (in the state
// file), whose recorded requests the hook cases replay.
const (
	kitPhoneID    = "kitphone"
	kitPhoneToken = "kit-phone-device-token"
	kitHookURL    = "https://sms.example.com/api/v1/providers/android/hooks"
)

// withPhone is the provider under test with a phone of its own: once
// configured, a phone registers at the hook URL the kit serves and takes
// what Send offers, so the kit sees messages accepted and reported.
type withPhone struct {
	*android.Provider
	cancel context.CancelFunc
	wg     sync.WaitGroup
	phone  *testPhone
}

func (w *withPhone) Configure(ctx context.Context, cfg sdk.Config) error {
	if err := w.Provider.Configure(ctx, cfg); err != nil {
		return err
	}
	w.phone = newTestPhone(cfg.HookURL, "conformance")
	w.phone.Deliver = true
	w.phone.client = &http.Client{Transport: &http.Transport{}}
	if err := w.phone.Register(ctx, privateToken); err != nil {
		return fmt.Errorf("test phone: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	connected := make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		_ = w.phone.Run(runCtx, connected)
	}()
	select {
	case <-connected:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("test phone did not connect")
	}
}

func (w *withPhone) Close(ctx context.Context) error {
	if w.cancel != nil {
		w.cancel()
	}
	err := w.Provider.Close(ctx)
	w.wg.Wait()
	if w.phone != nil {
		w.phone.client.CloseIdleConnections()
	}
	return err
}

// kitState writes a state file holding the kit's phone.
func kitState(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(kitPhoneToken))
	doc := fmt.Sprintf(`{"version":1,"phones":[{"id":%q,"name":"kit","token_sha256":%q,"created_at":"2026-01-01T00:00:00Z",
		"sims":[{"slot":1,"number":"+959790000009"}]}]}`, kitPhoneID, hex.EncodeToString(sum[:]))
	path := filepath.Join(t.TempDir(), "phones.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// signedWebhook is a webhook as the kit's phone posts it, signed now with
// the key the provider hands that phone in GET /settings.
func signedWebhook(t *testing.T, event string, payload any) sdk.HookRequest {
	t.Helper()
	return signedWebhookAt(t, time.Now(), event, payload)
}

// signedWebhookAt is signedWebhook with the timestamp at.
func signedWebhookAt(t *testing.T, at time.Time, event string, payload any) sdk.HookRequest {
	t.Helper()
	body, err := json.Marshal(map[string]any{"deviceId": kitPhoneID, "event": event, "id": "e1", "webhookId": "w", "payload": payload})
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	key := hmac.New(sha256.New, []byte(privateToken))
	key.Write([]byte("smsrouter android webhook signing key\x00" + kitPhoneID))
	mac := hmac.New(sha256.New, []byte(hex.EncodeToString(key.Sum(nil))))
	mac.Write(body)
	mac.Write([]byte(ts))
	return sdk.HookRequest{Method: http.MethodPost, URL: kitHookURL + "/webhook", Path: "/webhook", Body: body,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Timestamp": {ts}, "X-Signature": {hex.EncodeToString(mac.Sum(nil))}}}
}

func mobileCall(method, path, token, body string) sdk.HookRequest {
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	return sdk.HookRequest{Method: method, URL: kitHookURL + "/mobile/v1" + path, Path: "/mobile/v1" + path, Body: []byte(body), Header: h}
}

func conformanceTarget(t *testing.T) providertest.Target {
	received := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	return providertest.Target{
		Name:     "android",
		New:      func() sdk.Provider { return &withPhone{Provider: android.New()} },
		Settings: json.RawMessage(fmt.Sprintf(`{"private_token":%q,"state_file":%q,"keepalive":"50ms","lease":"5s"}`, privateToken, kitState(t))),
		BadSettings: []json.RawMessage{
			json.RawMessage(`{}`),
			json.RawMessage(`{"private_token":"short"}`),
			json.RawMessage(fmt.Sprintf(`{"private_token":%q,"when_offline":"drop"}`, privateToken)),
			json.RawMessage(fmt.Sprintf(`{"private_token":%q,"privat_token":"x"}`, privateToken)),
			json.RawMessage(fmt.Sprintf(`{"private_token":%q,"state_file":"relative.json"}`, privateToken)),
			json.RawMessage(fmt.Sprintf(`{"private_token":%q,"phones":[{"name":"a","sims":[{"slot":4}]}]}`, privateToken)),
		},
		Hooks: []providertest.HookCase{
			{
				Name: "inbound SMS",
				Request: signedWebhook(t, "sms:received", map[string]any{"messageId": "abc", "message": "YES",
					"phoneNumber": "+959791111111", "simNumber": 1, "receivedAt": received.Format(time.RFC3339)}),
				Status: http.StatusNoContent,
				Events: []sdk.Event{{Inbound: &sdk.InboundEvent{ProviderMessageID: "abc", From: "+959791111111", To: "+959790000009", Text: "YES", At: received}}},
			},
			{
				Name:    "ping",
				Request: signedWebhook(t, "system:ping", map[string]any{"health": map[string]any{"checks": map[string]any{"battery:level": map[string]any{"observedValue": 80}}}}),
				Status:  http.StatusNoContent,
			},
			{
				Name: "report about a message never given",
				Request: mobileCall(http.MethodPatch, "/message", kitPhoneToken,
					`[{"id":"msg_never","state":"Sent","recipients":[{"phoneNumber":"+959791111111","state":"Sent"}],"states":{"Sent":"2026-12-07T06:00:00Z"}}]`),
				Status: http.StatusNoContent,
			},
			{Name: "webhook list", Request: mobileCall(http.MethodGet, "/webhooks", kitPhoneToken, "")},
			{Name: "registration without the private token", Request: mobileCall(http.MethodPost, "/device", "", `{"name":"x"}`), Status: http.StatusUnauthorized},
			{Name: "malformed report", Request: mobileCall(http.MethodPatch, "/message", kitPhoneToken, `[{"id":`), Status: http.StatusBadRequest},
		},
		ExpectReports: true,
	}
}

func TestConformance(t *testing.T) {
	providertest.Run(t, conformanceTarget(t))
}
