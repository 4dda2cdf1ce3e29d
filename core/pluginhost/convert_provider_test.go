package pluginhost_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/sdk"
)

// What a provider reports of itself reaches the API in the host's types
// with every field the protocol carries: a field the protocol gains and the
// host's type lacks fails here, not silently in an admin answer.
func TestProviderFactsKeepEveryField(t *testing.T) {
	for _, pair := range [][2]any{
		{sdk.Balance{}, provider.Balance{}},
		{sdk.SenderID{}, provider.SenderID{}},
		{sdk.OutboxMessage{}, provider.OutboxMessage{}},
		{sdk.Device{}, provider.Device{}},
		{sdk.DeviceSIM{}, provider.SIM{}},
	} {
		if p, h := reflect.TypeOf(pair[0]), reflect.TypeOf(pair[1]); p.NumField() != h.NumField() {
			t.Errorf("%v has %d fields, %v %d: translate the new one in convert.go", p, p.NumField(), h, h.NumField())
		}
	}
	seen := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	battery, signal := 80, -71
	tests := []struct {
		name      string
		got, want any
	}{
		{"balance", pluginhost.Balance(sdk.Balance{Amount: 12.5, Currency: "EUR"}), provider.Balance{Amount: 12.5, Currency: "EUR"}},
		{"sender ids", pluginhost.SenderIDs([]sdk.SenderID{{Value: "FASTCO", Kind: "alphanumeric"}, {Value: "12345"}}),
			[]provider.SenderID{{Value: "FASTCO", Kind: message.SenderAlphanumeric}, {Value: "12345"}}},
		{"no sender ids", pluginhost.SenderIDs(nil), []provider.SenderID(nil)},
		{"outbox", pluginhost.OutboxMessages([]sdk.OutboxMessage{{MessageID: "msg_1", ProviderMessageID: "sbx-1", To: "+959123456789",
			From: "SANDBOX", Text: "hi", Kind: "otp", Segments: 2, SentAt: seen}}),
			[]provider.OutboxMessage{{MessageID: "msg_1", ProviderMessageID: "sbx-1", To: "+959123456789",
				From: "SANDBOX", Text: "hi", Kind: message.KindOTP, Segments: 2, SentAt: seen}}},
		{"devices", pluginhost.Devices([]sdk.Device{{ID: "ph-1", Name: "Pixel", Kind: sdk.DeviceModemPort, Online: true, LastSeen: seen,
			Battery: &battery, Charging: true, InFlight: 3, SentToday: 40, SIMs: []sdk.DeviceSIM{{Slot: 1, Number: "+959123456789", Operator: "Telenor", Country: "MM"}},
			IMEI: "imei", IMSI: "imsi", Operator: "Ooredoo", Country: "MM", Signal: &signal, Registration: sdk.RegistrationRoaming, Detail: "ready"}}),
			[]provider.Device{{ID: "ph-1", Name: "Pixel", Kind: provider.DeviceModemPort, Online: true, LastSeen: seen,
				Battery: &battery, Charging: true, InFlight: 3, SentToday: 40, SIMs: []provider.SIM{{Slot: 1, Number: "+959123456789", Operator: "Telenor", Country: "MM"}},
				IMEI: "imei", IMSI: "imsi", Operator: "Ooredoo", Country: "MM", Signal: &signal, Registration: provider.RegistrationRoaming, Detail: "ready"}}},
		{"no devices", pluginhost.Devices(nil), []provider.Device(nil)},
	}
	if got, want := pluginhost.Features(sdk.Capabilities{Info: sdk.Info{Name: "sandbox", Version: "1", MaxBatchSize: 10},
		Revoke: true, SettingsValidation: true}), (provider.Features{Plugin: "sandbox", Version: "1", MaxBatchSize: 10,
		RevokeDevice: true, SettingsValidation: true}); got != want {
		t.Errorf("Features = %+v, want %+v", got, want)
	}
	// Info's fields and one per optional part.
	if p, h := reflect.TypeFor[sdk.Capabilities]().NumField()-1+reflect.TypeFor[sdk.Info]().NumField(), reflect.TypeFor[provider.Features]().NumField(); p != h {
		t.Errorf("sdk.Capabilities carries %d facts, provider.Features %d: translate the new one in convert.go", p, h)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}
