package twilio_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

// The account the kit's fake upstream plays, and the public hook URL the
// recorded callbacks are signed for.
const (
	kitAccount = "AC0123456789abcdef0123456789abcdef"
	kitToken   = "kit-auth-token"
	kitHookURL = "https://sms.example.com/api/v1/providers/tw/hooks"
)

// conformanceTarget runs the kit with its fake upstream speaking Twilio's
// API and delivery reports posted to the status callback, signed.
func conformanceTarget() providertest.Target {
	var bad []json.RawMessage
	for _, b := range badSettings[:5] {
		bad = append(bad, json.RawMessage(b.settings))
	}
	return providertest.Target{
		Name:        "twilio",
		BadSettings: bad,
		Upstream: &providertest.Upstream{
			Settings: func(url string) json.RawMessage {
				return json.RawMessage(fmt.Sprintf(`{"account_sid":%q,"auth_token":%q,"base_url":%q,"from":"+15017122661","max_batch_size":10}`, kitAccount, kitToken, url))
			},
			Answer: answerAsTwilio,
			Report: func(hookURL, sid string) (*http.Request, error) {
				return signedCallback(hookURL+"/status", url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "AccountSid": {kitAccount}})
			},
		},
		HookURL: kitHookURL,
		Hooks: []providertest.HookCase{
			{
				Name:    "delivered",
				Request: signedHook("/status", url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "AccountSid": {kitAccount}}),
				Events:  []sdk.Event{{ID: "SM1/delivered", Status: &sdk.StatusEvent{ProviderMessageID: "SM1", Status: sdk.StatusDelivered, ProviderStatus: "delivered"}}},
			},
			{
				Name:    "undelivered",
				Request: signedHook("/status", url.Values{"MessageSid": {"SM2"}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}}),
				Events:  []sdk.Event{{Status: &sdk.StatusEvent{ProviderMessageID: "SM2", Status: sdk.StatusUndeliverable, ErrorCode: "30003"}}},
			},
			{
				Name:    "inbound",
				Request: signedHook("/receive", url.Values{"MessageSid": {"SM3"}, "From": {"+15558675310"}, "To": {"+15017122661"}, "Body": {"YES"}}),
				Events:  []sdk.Event{{Inbound: &sdk.InboundEvent{ProviderMessageID: "SM3", From: "+15558675310", To: "+15017122661", Text: "YES"}}},
			},
			{
				Name:    "no sid",
				Request: signedHook("/status", url.Values{"MessageStatus": {"delivered"}}),
				Status:  http.StatusBadRequest,
			},
		},
		ExpectReports: true,
	}
}

// answerAsTwilio writes the kit's scripted answer as Twilio's REST API.
func answerAsTwilio(w http.ResponseWriter, r *http.Request, reply providertest.Reply) {
	w.Header().Set("Content-Type", "application/json")
	path := r.URL.Path
	switch {
	case reply.Status != http.StatusOK:
		w.WriteHeader(reply.Status)
		fmt.Fprintf(w, `{"code":%d,"message":%q,"status":%d}`, 20000+reply.Status, reply.Reason, reply.Status)
	case r.Method == http.MethodPost && strings.HasSuffix(path, "/Messages.json"):
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"sid":%q,"status":"queued"}`, reply.ID)
	case strings.HasSuffix(path, "/Balance.json"):
		fmt.Fprint(w, `{"balance":"25.50","currency":"usd"}`)
	case strings.Contains(path, "/Messages/"):
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"code":20404,"message":"not found","status":404}`)
	default:
		fmt.Fprintf(w, `{"sid":%q,"status":"active"}`, kitAccount)
	}
}

// signedHook is a callback as the host hands it to HandleHook.
func signedHook(path string, form url.Values) sdk.HookRequest {
	full := kitHookURL + path
	return sdk.HookRequest{Method: http.MethodPost, URL: full, Path: path, Body: []byte(form.Encode()),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Twilio-Signature": {twiliotest.Sign(kitToken, full, form)}}}
}

// signedCallback is a callback as Twilio posts it.
func signedCallback(target string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(kitToken, target, form))
	return req, nil
}

func TestConformance(t *testing.T) {
	target := conformanceTarget()
	target.New = func() sdk.Provider { return twilio.New() }
	providertest.Run(t, target)
}

// TestConformanceBinary runs the provider behind the plugin boundary, as the
// host does, through a plugin binary built from testdata.
func TestConformanceBinary(t *testing.T) {
	bin := pluginBinary(t)
	target := conformanceTarget()
	target.Command = func() *exec.Cmd { return exec.Command(bin) }
	providertest.Run(t, target)
}
