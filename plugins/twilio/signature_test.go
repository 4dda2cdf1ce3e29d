package twilio_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"testing"

	twclient "github.com/twilio/twilio-go/client"

	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
)

// twilio-go's own test vector: a signature Twilio produced.
const (
	vectorToken = "12345"
	vectorURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
	vectorSig   = "vOEb5UThFn24KEfnOFLQY2AE5FY="
)

var vectorParams = url.Values{
	"Digits":                {"1234"},
	"CallSid":               {"CA1234567890ABCDE"},
	"To":                    {"+18005551212"},
	"Caller":                {"+14158675309"},
	"From":                  {"+14158675309"},
	"ReasonConferenceEnded": {"test"},
	"Reason":                {"Participant"},
}

func TestSignatureMatchesTwilioVector(t *testing.T) {
	if got := twilio.Signature(vectorToken, vectorURL, vectorParams); got != vectorSig {
		t.Errorf("Signature = %q, want twilio-go's vector %q", got, vectorSig)
	}
	body := []byte(vectorParams.Encode())
	if !twilio.VerifySignature(vectorToken, vectorURL, body, vectorSig) {
		t.Error("VerifySignature refused twilio-go's vector")
	}
}

// TestSignaturesAgreeWithTwilioGo checks both directions against twilio-go's
// RequestValidator, an implementation we did not write: what we sign it
// accepts, what the fake (signing like Twilio) produces we accept, and
// every tampering is refused by both.
func TestSignaturesAgreeWithTwilioGo(t *testing.T) {
	const token = "f00dfeedcafe0123456789abcdef0123"
	base := "https://sms.example.com/api/v1/providers/twilio-1/hooks/status"
	form := url.Values{
		"MessageSid": {"SM1f0e8ae6ade43cb3c0ce4525424e404f"}, "SmsSid": {"SM1f0e8ae6ade43cb3c0ce4525424e404f"},
		"MessageStatus": {"delivered"}, "SmsStatus": {"delivered"}, "AccountSid": {"AC" + "0123456789abcdef0123456789abcdef"},
		"From": {"+15017122661"}, "To": {"+15558675310"}, "ApiVersion": {"2010-04-01"}, "Body": {"Hello ✓ & = + %"},
	}
	validator := twclient.NewRequestValidator(token)

	cases := []struct {
		name   string
		signed string // the URL the signature was made for
		posted string // the URL the request arrived at
		form   url.Values
		body   url.Values // what arrives; nil: form
		token  string
		want   bool
	}{
		{name: "plain", signed: base, posted: base, form: form, token: token, want: true},
		{name: "with query", signed: base + "?route=abc&x=1", posted: base + "?route=abc&x=1", form: form, token: token, want: true},
		{name: "non-default port", signed: "http://127.0.0.1:3005/hooks/status", posted: "http://127.0.0.1:3005/hooks/status", form: form, token: token, want: true},
		{name: "default port added by a proxy", signed: base, posted: "https://sms.example.com:443/api/v1/providers/twilio-1/hooks/status", form: form, token: token, want: true},
		{name: "default port dropped", signed: "https://sms.example.com:443/api/v1/providers/twilio-1/hooks/status", posted: base, form: form, token: token, want: true},
		{name: "query dropped", signed: base + "?route=abc", posted: base, form: form, token: token, want: false},
		{name: "other path", signed: base, posted: base + "x", form: form, token: token, want: false},
		{name: "other host", signed: base, posted: "https://evil.example.com/api/v1/providers/twilio-1/hooks/status", form: form, token: token, want: false},
		{name: "http instead of https", signed: base, posted: "http://sms.example.com/api/v1/providers/twilio-1/hooks/status", form: form, token: token, want: false},
		{name: "status changed", signed: base, posted: base, form: form, body: with(form, "MessageStatus", "failed"), token: token, want: false},
		{name: "parameter added", signed: base, posted: base, form: form, body: with(form, "ErrorCode", "30003"), token: token, want: false},
		{name: "parameter removed", signed: base, posted: base, form: form, body: without(form, "SmsStatus"), token: token, want: false},
		{name: "other token", signed: base, posted: base, form: form, token: "another-token", want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			arrived := tc.body
			if arrived == nil {
				arrived = tc.form
			}
			body := []byte(arrived.Encode())

			ours := twilio.Signature(tc.token, tc.signed, tc.form)
			if fakes := twiliotest.Sign(tc.token, tc.signed, tc.form); fakes != ours {
				t.Fatalf("the fake signs %q, we sign %q", fakes, ours)
			}
			if got := twilio.VerifySignature(token, tc.posted, body, ours); got != tc.want {
				t.Errorf("our verifier says %v, want %v", got, tc.want)
			}
			if got := validator.ValidateBody(tc.posted, body, ours); got != tc.want {
				t.Errorf("twilio-go's RequestValidator says %v for our signature, want %v", got, tc.want)
			}
		})
	}
}

func TestVerifySignatureJSONBody(t *testing.T) {
	const token = "json-token"
	body := []byte(`{"MessageSid":"SM1","MessageStatus":"delivered"}`)
	sum := sha256.Sum256(body)
	u := "https://sms.example.com/hooks/status?bodySHA256=" + hex.EncodeToString(sum[:])
	sig := twilio.Signature(token, u, nil)
	validator := twclient.NewRequestValidator(token)
	if !validator.ValidateBody(u, body, sig) {
		t.Fatal("twilio-go refuses our signature of a JSON webhook")
	}
	if !twilio.VerifySignature(token, u, body, sig) {
		t.Error("JSON webhook with a matching bodySHA256 refused")
	}
	tampered := []byte(`{"MessageSid":"SM1","MessageStatus":"failed"}`)
	if twilio.VerifySignature(token, u, tampered, sig) {
		t.Error("JSON webhook whose body does not match bodySHA256 accepted")
	}
	if validator.ValidateBody(u, tampered, sig) {
		t.Error("twilio-go accepts the tampered body too; the test is wrong")
	}
}

func TestVerifySignatureRefusesEmpty(t *testing.T) {
	body := []byte(vectorParams.Encode())
	for _, tc := range []struct{ token, sig string }{{"", vectorSig}, {vectorToken, ""}, {vectorToken, "not base64"}} {
		if twilio.VerifySignature(tc.token, vectorURL, body, tc.sig) {
			t.Errorf("token %q signature %q accepted", tc.token, tc.sig)
		}
	}
}

func with(v url.Values, k, val string) url.Values {
	out := url.Values{}
	for kk, vv := range v {
		out[kk] = append([]string(nil), vv...)
	}
	out.Set(k, val)
	return out
}

func without(v url.Values, k string) url.Values {
	out := with(v, k, "")
	delete(out, k)
	return out
}
