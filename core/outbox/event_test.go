package outbox_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// Every status a message can reach causes the event applications are told
// about, or none for the statuses before an answer from a provider.
func TestEventTypeFor(t *testing.T) {
	tests := []struct {
		status message.Status
		want   outbox.EventType
	}{
		{message.Queued, ""},
		{message.Pending, ""},
		{message.Sent, outbox.EventMessageSent},
		{message.Delivered, outbox.EventMessageDelivered},
		{message.Unknown, outbox.EventMessageFailed},
		{message.Failed, outbox.EventMessageFailed},
		{message.Expired, outbox.EventMessageFailed},
		{message.Rejected, outbox.EventMessageFailed},
		{message.Undeliverable, outbox.EventMessageFailed},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			if got := outbox.EventTypeFor(tt.status); got != tt.want {
				t.Errorf("EventTypeFor(%s) = %q, want %q", tt.status, got, tt.want)
			}
		})
	}
}
