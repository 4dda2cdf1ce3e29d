package twilio_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestValidityPeriodSent checks the ValidityPeriod each message is sent
// with: what is left of its validity, capped by the validity_period setting
// and Twilio's 36000 s. Remaining time is measured against the wall clock,
// so a range is accepted for what the request takes.
func TestValidityPeriodSent(t *testing.T) {
	cases := []struct {
		name     string
		setting  string        // "" leaves it unset
		left     time.Duration // 0: no ValidUntil
		min, max int           // 0, 0: no ValidityPeriod sent
	}{
		{name: "neither", min: 0, max: 0},
		{name: "setting only", setting: "1h", min: 3600, max: 3600},
		{name: "message validity", left: 2 * time.Hour, min: 7200 - 60, max: 7200},
		{name: "setting caps a longer validity", setting: "1h", left: 2 * time.Hour, min: 3600, max: 3600},
		{name: "shorter validity wins over the setting", setting: "1h", left: 30 * time.Minute, min: 1800 - 60, max: 1800},
		{name: "clamped to Twilio's maximum", left: 72 * time.Hour, min: 36000, max: 36000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(t, twiliotest.Options{})
			extra := map[string]any{}
			if tc.setting != "" {
				extra["validity_period"] = tc.setting
			}
			p := configured(t, settingsFor(t, f, extra), "")
			msg := sdk.Message{ID: "msg_v", To: "+15558675310", Text: "hello"}
			if tc.left > 0 {
				msg.ValidUntil = time.Now().Add(tc.left)
			}
			res, err := p.Send(t.Context(), []sdk.Message{msg})
			if err != nil || res[0].Outcome != sdk.Accepted {
				t.Fatalf("Send = %+v, %v", res, err)
			}
			sent := f.Messages()
			if len(sent) != 1 {
				t.Fatalf("fake saw %d messages", len(sent))
			}
			raw, present := sent[0].Form["ValidityPeriod"]
			if tc.max == 0 {
				if present {
					t.Errorf("ValidityPeriod %q sent, want none", raw)
				}
				return
			}
			got, err := strconv.Atoi(sent[0].ValidityPeriod)
			if err != nil || got < tc.min || got > tc.max {
				t.Errorf("ValidityPeriod %q, want %d..%d", sent[0].ValidityPeriod, tc.min, tc.max)
			}
		})
	}
}

// A message with less than a second of validity left is not sent: it is
// answered sdk.Expired, and the host records it expired.
func TestExpiredMessageIsNotSent(t *testing.T) {
	f := fake(t, twiliotest.Options{})
	p := configured(t, settingsFor(t, f, nil), "")
	res, err := p.Send(t.Context(), []sdk.Message{{ID: "msg_late", To: "+15558675310", Text: "too late", ValidUntil: time.Now().Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Outcome != sdk.OutcomeExpired || r.Code != "EXPIRED" {
		t.Errorf("result %+v, want expired with code EXPIRED", r)
	}
	if n := len(f.Messages()); n != 0 {
		t.Errorf("fake got %d messages, want none", n)
	}
}
