package pluginhost_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
)

// Every status a plugin may report is a host status with the same stored
// string: the protocol and the database spell them alike.
func TestStatusTranslatesEveryPluginStatus(t *testing.T) {
	every := []sdk.Status{sdk.StatusQueued, sdk.StatusSent, sdk.StatusDelivered, sdk.StatusFailed,
		sdk.StatusExpired, sdk.StatusRejected, sdk.StatusUndeliverable, sdk.StatusUnknown,
		sdk.StatusPending} //nolint:staticcheck // deprecated, but a plugin may still send it
	for _, s := range every {
		if got := pluginhost.Status(s); string(got) != string(s) || !got.Valid() {
			t.Errorf("Status(%q) = %q (valid %v), want the same string, valid", s, got, got.Valid())
		}
	}
	if got := pluginhost.Status("bogus"); got.Valid() {
		t.Errorf("Status(bogus) = %q is valid, want invalid so the store refuses it", got)
	}
}

// Every refusal a plugin may give is a host refusal with the same stored
// word, and the host knows no refusal the protocol lacks.
func TestRefusalTranslatesEveryPluginRefusal(t *testing.T) {
	var got []message.Refusal
	for _, r := range sdk.Refusals() {
		got = append(got, pluginhost.Refusal(r))
		if string(got[len(got)-1]) != string(r) {
			t.Errorf("Refusal(%q) = %q, want the same word", r, got[len(got)-1])
		}
	}
	if !reflect.DeepEqual(got, message.Refusals()) {
		t.Errorf("host refusals %q, want the protocol's %q", message.Refusals(), got)
	}
}

func TestEventsKeepEveryField(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	report := sdk.Event{ID: "r1", DuplicateWindow: time.Hour, Status: &sdk.StatusEvent{ProviderMessageID: "p1", Status: sdk.StatusUndeliverable,
		ProviderStatus: "UNDELIV", ErrorCode: "34", At: at, Recipient: "959123456789"}}
	mo := sdk.Event{ID: "i1", Inbound: &sdk.InboundEvent{ProviderMessageID: "mo1", From: "+959123456789", To: "12345", Text: "STOP", At: at}}
	wantReport := message.Event{ID: "r1", DuplicateWindow: time.Hour, Report: &message.Report{ProviderMessageID: "p1", Status: message.Undeliverable,
		ProviderStatus: "UNDELIV", ErrorCode: "34", At: at, Recipient: "959123456789"}}
	wantInbound := message.Event{ID: "i1", Inbound: &inbound.Message{ProviderMessageID: "mo1", Sender: "+959123456789", Recipient: "12345", Text: "STOP", ReceivedAt: at}}
	tests := []struct {
		name string
		in   []sdk.Event
		want []message.Event
	}{
		{"none", nil, nil},
		{"one report", []sdk.Event{report}, []message.Event{wantReport}},
		{"one inbound message", []sdk.Event{mo}, []message.Event{wantInbound}},
		{"a batch, in order", []sdk.Event{report, mo, report}, []message.Event{wantReport, wantInbound, wantReport}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pluginhost.Events(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Events = %+v, want %+v", got, tt.want)
			}
		})
	}
}
