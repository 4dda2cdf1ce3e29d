package message_test

import (
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

func TestMovesTo(t *testing.T) {
	tests := []struct {
		name     string
		from, to message.Status
		want     bool
	}{
		{"first attempt accepted", message.Queued, message.Sent, true},
		{"retry accepted", message.Pending, message.Sent, true},
		{"early report on an unsent message", message.Queued, message.Delivered, true},
		{"delivery report", message.Sent, message.Delivered, true},
		{"failure report", message.Sent, message.Undeliverable, true},
		{"no report in time", message.Sent, message.Unknown, true},
		{"definite report after unknown", message.Unknown, message.Delivered, true},
		{"repeated sent", message.Sent, message.Sent, false},
		{"late sent after delivered", message.Delivered, message.Sent, false},
		{"late failure after delivered", message.Delivered, message.Failed, false},
		{"late delivered after expired", message.Expired, message.Delivered, false},
		{"unknown after final", message.Rejected, message.Unknown, false},
		{"back to the queue", message.Sent, message.Queued, false},
		{"queued to pending", message.Queued, message.Pending, false},
		{"no status", message.Sent, message.Status("bogus"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.from.MovesTo(tt.to); got != tt.want {
				t.Errorf("%s.MovesTo(%s) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestStatusClasses(t *testing.T) {
	tests := []struct {
		status                        message.Status
		valid, unsent, final, failure bool
	}{
		{message.Queued, true, true, false, false},
		{message.Pending, true, true, false, false},
		{message.Sent, true, false, false, false},
		{message.Unknown, true, false, false, false},
		{message.Delivered, true, false, true, false},
		{message.Failed, true, false, true, true},
		{message.Expired, true, false, true, true},
		{message.Rejected, true, false, true, true},
		{message.Undeliverable, true, false, true, true},
		{"bogus", false, false, false, false},
		{"", false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			got := [4]bool{tt.status.Valid(), tt.status.Unsent(), tt.status.Final(), tt.status.Failure()}
			want := [4]bool{tt.valid, tt.unsent, tt.final, tt.failure}
			if got != want {
				t.Errorf("valid, unsent, final, failure = %v, want %v", got, want)
			}
		})
	}
}

// The stored strings are the database's and the REST API's: a change is a
// data migration, not a rename.
func TestStatusesKeepTheirStoredStrings(t *testing.T) {
	want := []string{"queued", "pending", "sent", "delivered", "failed", "expired", "rejected", "undeliverable", "unknown"}
	got := message.Statuses()
	if len(got) != len(want) {
		t.Fatalf("Statuses() = %v, want %v", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] || !got[i].Valid() {
			t.Errorf("Statuses()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestReportedAt(t *testing.T) {
	learnt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	earlier, later := learnt.Add(-time.Minute), learnt.Add(time.Minute)
	tests := []struct {
		name   string
		sentAt *time.Time
		want   time.Time
	}{
		{"not sent yet", nil, learnt},
		{"report after the send", &earlier, learnt},
		{"early report held until the send was recorded", &later, later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := message.ReportedAt(learnt, tt.sentAt); !got.Equal(tt.want) {
				t.Errorf("ReportedAt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFailureText(t *testing.T) {
	tests := []struct {
		report message.Report
		want   string
	}{
		{message.Report{Status: message.Undeliverable}, "provider reported undeliverable"},
		{message.Report{Status: message.Failed, ProviderStatus: "UNDELIV"}, "provider reported failed (UNDELIV)"},
		{message.Report{Status: message.Failed, ProviderStatus: "UNDELIV", ErrorCode: "34"}, "provider reported failed (UNDELIV, error 34)"},
		{message.Report{Status: message.Expired, ErrorCode: "7"}, "provider reported expired (error 7)"},
	}
	for _, tt := range tests {
		if got := tt.report.FailureText(); got != tt.want {
			t.Errorf("FailureText(%+v) = %q, want %q", tt.report, got, tt.want)
		}
	}
}

func TestNotCancellableErrorSaysWhy(t *testing.T) {
	tests := []struct {
		err  message.NotCancellableError
		want string
	}{
		{message.NotCancellableError{MessageID: "m1", Status: message.Queued, Sending: true},
			"message m1 is being handed to a provider right now; if that fails it can be cancelled again in a few seconds"},
		{message.NotCancellableError{MessageID: "m1", Status: message.Sent},
			"message m1 was already accepted by a provider (status sent); it can no longer be cancelled"},
		{message.NotCancellableError{MessageID: "m1", Status: message.Unknown},
			"message m1 was already accepted by a provider (status unknown); it can no longer be cancelled"},
		{message.NotCancellableError{MessageID: "m1", Status: message.Delivered},
			"message m1 is already final (status delivered); only queued or pending messages can be cancelled"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
