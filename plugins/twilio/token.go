package twilio

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// CallbackToken is the token a provider with hook_auth = "shared_secret"
// puts in the StatusCallback URL it hands upstream (".../status?token=…"),
// so a gateway that posts reports back to that URL unchanged is accepted
// without learning to send a header. It is derived from hook_secret and the
// provider's name: the secret itself never appears in a URL that proxies and
// gateways log, and one provider's token is worthless at another's hooks.
// Changing hook_secret or renaming the provider changes the token, so
// reports for messages sent before then are refused.
func CallbackToken(hookSecret, provider string) string {
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte("smsrouter twilio callback token\x00" + provider))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
