package modem_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestSettingsRefusedWithTheSettingNamed(t *testing.T) {
	cases := []struct {
		settings string
		field    string
		want     string
	}{
		{`{}`, "ports", "required"},
		{`{"ports":[]}`, "ports", "required"},
		{`{"ports":[""]}`, "ports[0]", "needs a path"},
		{`{"ports":["/dev/ttyUSB0","/dev/ttyUSB0"]}`, "ports[1]", "listed twice"},
		{`{"ports":["/dev/ttyUSB["]}`, "ports[0]", "not a valid path or glob"},
		{`{"ports":["/dev/ttyUSB0"],"baud":1234}`, "baud", "not a serial speed"},
		{`{"ports":["/dev/ttyUSB0"],"pin":"12a4"}`, "pin", "4 to 8 digits"},
		{`{"ports":[{"path":"/dev/ttyUSB0","pin":"1"}]}`, "ports[0].pin", "4 to 8 digits"},
		{`{"ports":[{"path":"/dev/ttyUSB0","smsc":"operator"}]}`, "ports[0].smsc", "not a phone number"},
		{`{"ports":[{"path":"/dev/ttyUSB0","max_per_day":-1}]}`, "ports[0].max_per_day", "out of range"},
		{`{"ports":["/dev/ttyUSB0"],"send_interval":"2h"}`, "send_interval", "out of range"},
		{`{"ports":["/dev/ttyUSB0"],"reopen_backoff":"10s","reopen_backoff_max":"1s"}`, "reopen_backoff_max", "out of range"},
		{`{"ports":["/dev/ttyUSB0"],"operator_prefixes":{"47":""}}`, "operator_prefixes", "operator name"},
		{`{"ports":["/dev/ttyUSB0"],"prots":1}`, "prots", "unknown setting"},
	}
	for _, tc := range cases {
		t.Run(tc.settings, func(t *testing.T) {
			cfg := sdk.Config{Name: "modems", Settings: json.RawMessage(tc.settings)}
			err := modem.New().ValidateSettings(context.Background(), cfg)
			var se *sdk.SettingsError
			if !errors.As(err, &se) || se.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want setting %s: …%s…", err, tc.field, tc.want)
			}
			if strings.Contains(err.Error(), "12a4") {
				t.Errorf("error quotes the PIN: %v", err)
			}
			p := modem.New()
			if err := p.Configure(context.Background(), cfg); err == nil {
				t.Error("Configure accepted what ValidateSettings refused")
			}
			_ = p.Close(context.Background())
		})
	}
}

// A port that is not there does not fail Configure: it is reported and
// reopened, since a USB modem may be plugged in later.
func TestMissingPortDoesNotFailConfigure(t *testing.T) {
	h := start(t, fast("/nonexistent/ttyUSB0", "/nonexistent/serial/by-id/usb-*"))
	hl := h.waitHealth(t, "ports reported", func(hl sdk.Health) bool {
		return strings.Count(hl.Detail, "no such file or directory") == 2
	})
	if hl.OK {
		t.Errorf("health = %+v, want not OK", hl)
	}
}
