package httpapi_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/plugins/httpapi/aggregatortest"
)

// TestAcceptedReportsTheDefaultSender: a message without a sender goes out
// with default_sender, and the result says so for the host to show.
func TestAcceptedReportsTheDefaultSender(t *testing.T) {
	srv := fake(t, aggregatortest.Options{})
	p := provider(t, settingsFor(t, "aggregator002", srv.URL, ""))
	ms := msgs("hello", "+380989361131", "+380989361132")
	ms[1].From = "MyShop"
	res := sendOK(t, p, ms)
	if res[0].Sender != "SMSROUTER" || res[1].Sender != "" {
		t.Errorf("senders %q and %q, want SMSROUTER (the default used) and none (the message's own)", res[0].Sender, res[1].Sender)
	}
}
