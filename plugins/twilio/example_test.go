package twilio_test

import (
	"fmt"

	"github.com/smsrouter/smsrouter/plugins/twilio"
)

// A provider with hook_auth = "shared_secret" hands upstream StatusCallback
// URLs carrying a token derived from hook_secret and the provider's name;
// an operator can compute it for a gateway's inbound URL too.
func ExampleCallbackToken() {
	token := twilio.CallbackToken("0123456789abcdef-secret", "connector")
	fmt.Println("https://sms.example.com/api/v1/providers/connector/hooks/receive?token=" + token)
	// Output: https://sms.example.com/api/v1/providers/connector/hooks/receive?token=I8lHFbCq86saM29B_PJD8jPyH2yFuvo2M0eSCqe0AuU
}
