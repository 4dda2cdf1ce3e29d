package sdk_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// apiSettings is a provider's settings struct: defaults are set before
// decoding, checks between fields live in Validate.
type apiSettings struct {
	BaseURL string       `json:"base_url"`
	APIKey  sdk.Secret   `json:"api_key"`
	Timeout sdk.Duration `json:"timeout"`
}

func (s *apiSettings) Validate() error {
	if s.APIKey == "" {
		return sdk.BadSetting("api_key", "required; pass it from the environment with env(\"...\")")
	}
	return sdk.InRange("timeout", s.Timeout, sdk.Duration(time.Second), sdk.Duration(time.Minute))
}

func ExampleDecodeSettings() {
	for _, doc := range []string{
		`{"api_key":"k-123","timeout":"20s"}`,
		`{"api_key":"k-123","timout":"20s"}`,
		`{"api_key":"k-123","timeout":20}`,
		`{"timeout":"20s"}`,
	} {
		s := apiSettings{BaseURL: "https://api.example.com", Timeout: sdk.Duration(10 * time.Second)}
		if err := sdk.DecodeSettings(json.RawMessage(doc), &s); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%+v\n", s)
	}
	// Output:
	// {BaseURL:https://api.example.com APIKey:[redacted] Timeout:20s}
	// setting timout: unknown setting (the top-level settings are base_url, api_key, timeout)
	// setting timeout: 20 is not a duration such as "15s" or "2m30s"
	// setting api_key: required; pass it from the environment with env("...")
}

func ExampleSecret() {
	key := sdk.Secret("sk_live_123")
	fmt.Println(key, fmt.Sprintf("%q %#v", key, key))
	js, _ := json.Marshal(map[string]sdk.Secret{"api_key": key})
	fmt.Println(string(js))
	fmt.Println(strings.HasPrefix(key.Reveal(), "sk_live"))
	// Output:
	// [redacted] [redacted] [redacted]
	// {"api_key":"[redacted]"}
	// true
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, h := range []string{"30", "Mon, 07 Dec 2026 10:02:00 GMT", "soon"} {
		d, ok := sdk.ParseRetryAfter(h, now)
		if !ok {
			d = time.Second // the plugin's own default
		}
		fmt.Println(min(d, 10*time.Minute)) // and its own cap
	}
	// Output:
	// 30s
	// 2m0s
	// 1s
}

func ExampleVerifyHMAC() {
	secret := []byte("whsec_123")
	body := []byte(`{"id":"pm-1","status":"DELIVERED"}`)
	ts := "1700000000"

	// What the upstream sends: hex HMAC-SHA256 of "timestamp.body".
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "." + string(body)))
	header := "sha256=" + hex.EncodeToString(mac.Sum(nil))

	sig, _ := strings.CutPrefix(header, "sha256=")
	fmt.Println(sdk.VerifyHMAC(sha256.New, secret, []byte(ts+"."+string(body)), sig))
	fmt.Println(sdk.VerifyHMAC(sha256.New, secret, []byte(ts+"."+`{"id":"pm-1","status":"FAILED"}`), sig))
	fmt.Println(sdk.CheckTimestamp(ts, time.Unix(1700000060, 0), 5*time.Minute))
	fmt.Println(sdk.CheckTimestamp(ts, time.Unix(1700003600, 0), 5*time.Minute))
	// Output:
	// true
	// false
	// <nil>
	// timestamp outside the accepted window: 2023-11-14T22:13:20Z is 1h0m0s from now, more than 5m0s
}

// Each typed outcome tells the host what to do with the message; the
// constructors fill in what the host reads.
func ExampleExpired() {
	now := time.Now()
	msgs := []sdk.Message{
		{ID: "msg_1", ValidUntil: now.Add(-time.Second)},
		{ID: "msg_2"},
		{ID: "msg_3"},
		{ID: "msg_4"},
	}
	results := []sdk.SendResult{
		sdk.Expired(msgs[0].ID, "validity passed while queued for a window"),
		sdk.RetryAfter(msgs[1].ID, 30*time.Second, "throttled by the upstream").WithCode("429"), // the upstream's own code, for operators
		sdk.Unavailable(msgs[2].ID, "upstream answered 503"),
		sdk.AccountError(msgs[3].ID, "API key rejected (HTTP 401)"),
	}
	for _, r := range results {
		fmt.Printf("%s %s retried=%t code=%q retry_after=%s\n", r.MessageID, r.Outcome, r.Outcome.Retried(), r.Code, r.RetryAfter)
	}
	// Output:
	// msg_1 expired retried=false code="EXPIRED" retry_after=0s
	// msg_2 temporary retried=true code="429" retry_after=30s
	// msg_3 unavailable retried=true code="" retry_after=0s
	// msg_4 account_error retried=true code="" retry_after=0s
}

func ExampleConfig_Log() {
	cfg := sdk.Config{Name: "p1"} // a test's Config, without a Logger
	cfg.Log().Info("configured", "provider", cfg.Name)
	fmt.Println("no fallback logger needed")
	// Output: no fallback logger needed
}
