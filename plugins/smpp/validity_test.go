package smpp_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
)

var submitAt = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// newProviderAt is newProvider with the plugin's clock set to now.
func newProviderAt(t *testing.T, srv *smsctest.Server, extra map[string]any, now func() time.Time) *smpp.Provider {
	t.Helper()
	p := smpp.New()
	smpp.SetClock(p, now)
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := p.Configure(t.Context(), sdk.Config{Name: "smpp-test", Settings: settingsFor(srv, extra), Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestValidityPeriodReachesSMSC checks the validity_period every submit_sm
// carries, in each form, for one-part and multipart messages.
func TestValidityPeriodReachesSMSC(t *testing.T) {
	left := 2*time.Hour + 30*time.Minute + 15*time.Second + 400*time.Millisecond
	cases := []struct {
		name    string
		setting string // "" leaves the default
		until   time.Time
		want    string
	}{
		{name: "relative by default", until: submitAt.Add(left), want: "000000023015000R"},
		{name: "relative in days", setting: "relative", until: submitAt.Add(3*24*time.Hour + time.Second), want: "000003000001000R"},
		{name: "relative capped at 30 days", setting: "relative", until: submitAt.Add(90 * 24 * time.Hour), want: "000030235959000R"},
		{name: "absolute in UTC", setting: "absolute", until: submitAt.Add(left), want: "300304073622400+"},
		{name: "absolute from another zone", setting: "absolute", until: submitAt.Add(left).In(time.FixedZone("MMT", 6*3600+1800)), want: "300304073622400+"},
		{name: "none", setting: "none", until: submitAt.Add(left), want: ""},
		{name: "no validity given", until: time.Time{}, want: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{})
			extra := map[string]any{}
			if tc.setting != "" {
				extra["validity_period"] = tc.setting
			}
			p := newProviderAt(t, srv, extra, func() time.Time { return submitAt })
			msgs := []sdk.Message{
				{ID: "msg_short", To: "+14155550100", Text: "hello", Encoding: sdk.EncodingGSM7, Segments: 1, ValidUntil: tc.until},
				{ID: "msg_long", To: "+14155550101", From: "MyBrand", Text: strings.Repeat("long message ", 30), Encoding: sdk.EncodingGSM7, Segments: 3, ValidUntil: tc.until},
			}
			for _, r := range send(t, p, msgs) {
				if r.Outcome != sdk.Accepted {
					t.Fatalf("result %+v, want accepted", r)
				}
			}
			subs := srv.Submitted()
			if len(subs) != 4 {
				t.Fatalf("%d submits, want 4 (one + three parts)", len(subs))
			}
			for _, sub := range subs {
				if sub.ValidityPeriod != tc.want {
					t.Errorf("submit to %s part %d: validity_period %q, want %q", sub.Dest, sub.ConcatSeq, sub.ValidityPeriod, tc.want)
				}
			}
		})
	}
}

// A message whose validity has passed is never submitted; it is answered
// sdk.Expired (code EXPIRED) so the host records it expired, whether it had
// passed when Send was called or while it waited to be submitted.
func TestExpiredMessageIsNotSubmitted(t *testing.T) {
	cases := []struct {
		name  string
		until time.Time
		clock func() time.Time
	}{
		{name: "passed before Send", until: submitAt.Add(999 * time.Millisecond), clock: func() time.Time { return submitAt }},
		{name: "passed while queued", until: submitAt.Add(10 * time.Minute), clock: func() func() time.Time {
			// Send looks once per message; the submit looks an hour later.
			var calls atomic.Int64
			return func() time.Time {
				if calls.Add(1) == 1 {
					return submitAt
				}
				return submitAt.Add(time.Hour)
			}
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{})
			p := newProviderAt(t, srv, nil, tc.clock)
			res := send(t, p, []sdk.Message{{ID: "msg_late", To: "+14155550100", Text: "too late", Encoding: sdk.EncodingGSM7, Segments: 1, ValidUntil: tc.until}})
			if r := res[0]; r.Outcome != sdk.OutcomeExpired || r.Code != "EXPIRED" || r.ProviderMessageID != "" {
				t.Errorf("result %+v, want expired with code EXPIRED", r)
			}
			if st := srv.Stats(); st.Submits != 0 {
				t.Errorf("the SMSC got %d submits, want none", st.Submits)
			}
		})
	}
}

// An SMSC that refuses validity_period answers ESME_RINVEXPIRY, a permanent
// failure the operator fixes with validity_period "none".
func TestSMSCRefusingValidityPeriod(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{RejectValidity: true})
	msg := []sdk.Message{{ID: "msg_1", To: "+14155550100", Text: "hello", Encoding: sdk.EncodingGSM7, Segments: 1, ValidUntil: time.Now().Add(time.Hour)}}
	res := send(t, newProvider(t, srv, nil), msg)
	if r := res[0]; r.Outcome != sdk.Permanent || r.Code != "0x00000062" || !strings.Contains(r.Reason, "ESME_RINVEXPIRY") {
		t.Errorf("result %+v, want Permanent ESME_RINVEXPIRY (0x00000062)", r)
	}
	res = send(t, newProvider(t, srv, map[string]any{"validity_period": "none"}), msg)
	if r := res[0]; r.Outcome != sdk.Accepted {
		t.Errorf("with validity_period none: result %+v, want accepted", r)
	}
}
