package routing_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/routing"
)

// quietMarketing holds marketing from 22:00 to 06:00 in Yangon.
const quietMarketing = `
routing {
  timezone = "Asia/Yangon"
}
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["a"]
  quiet_hours {
    from = "22:00"
    to   = "06:00"
  }
}
`

func TestHold(t *testing.T) {
	src := providers("smpp", "a", "b") + quietMarketing + `
route "berlin-day" {
  match      = "kind == 'transactional'"
  candidates = ["a"]
  quiet_hours {
    from = "08:00"
    to   = "09:30"
    zone = "Europe/Berlin"
  }
}
route "night-batch" {
  match      = "kind == 'sms' && (hour >= 20 || hour < 7)"
  candidates = ["b"]
  hold_until = "07:00"
}
route "default" {
  default    = true
  candidates = ["b"]
}
`
	table := compile(t, src)
	yangon, _ := time.LoadLocation("Asia/Yangon")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	tests := []struct {
		name       string
		at         time.Time
		kind       string
		route      string
		until      time.Time // zero: not held
		reasonPart string
	}{
		{"21:50 is before quiet hours", time.Date(2026, 12, 7, 21, 50, 0, 0, yangon), "marketing", "marketing", time.Time{}, ""},
		{"22:00 starts them", time.Date(2026, 12, 7, 22, 0, 0, 0, yangon), "marketing", "marketing",
			time.Date(2026, 12, 8, 6, 0, 0, 0, yangon), "held for quiet hours until 06:00 Asia/Yangon"},
		{"after midnight waits for the same morning", time.Date(2026, 12, 8, 3, 15, 0, 0, yangon), "marketing", "marketing",
			time.Date(2026, 12, 8, 6, 0, 0, 0, yangon), "until 06:00 Asia/Yangon"},
		{"05:59 still held", time.Date(2026, 12, 8, 5, 59, 59, 0, yangon), "marketing", "marketing",
			time.Date(2026, 12, 8, 6, 0, 0, 0, yangon), ""},
		{"06:00 goes", time.Date(2026, 12, 8, 6, 0, 0, 0, yangon), "marketing", "marketing", time.Time{}, ""},
		{"a window in its own zone", time.Date(2026, 3, 29, 8, 15, 0, 0, berlin), "transactional", "berlin-day",
			time.Date(2026, 3, 29, 9, 30, 0, 0, berlin), "held for quiet hours until 09:30 Europe/Berlin"},
		{"hold_until the next morning", time.Date(2026, 12, 7, 20, 30, 0, 0, yangon), "sms", "night-batch",
			time.Date(2026, 12, 8, 7, 0, 0, 0, yangon), "held until 07:00 Asia/Yangon"},
		{"hold_until the same morning", time.Date(2026, 12, 8, 1, 0, 0, 0, yangon), "sms", "night-batch",
			time.Date(2026, 12, 8, 7, 0, 0, 0, yangon), ""},
		{"the match decides when hold_until applies", time.Date(2026, 12, 8, 7, 0, 0, 0, yangon), "sms", "default", time.Time{}, ""},
	}
	for _, tc := range tests {
		r := routing.NewRouter(table, nil, routing.WithClock(func() time.Time { return tc.at }))
		plan, err := r.Plan(t.Context(), routing.Facts{To: "+959791234567", Country: "MM", Kind: tc.kind, Segments: 1})
		if err != nil || plan.Route != tc.route {
			t.Errorf("%s: route %q, %v; want %q", tc.name, plan.Route, err, tc.route)
			continue
		}
		if !plan.Hold.Until.Equal(tc.until) || !strings.Contains(plan.Hold.Reason, tc.reasonPart) || (tc.until.IsZero() != (plan.Hold.Reason == "")) {
			t.Errorf("%s: hold %v %q; want until %v with %q", tc.name, plan.Hold.Until, plan.Hold.Reason, tc.until, tc.reasonPart)
		}
		ex := r.Explain(t.Context(), routing.Facts{To: "+959791234567", Country: "MM", Kind: tc.kind, Segments: 1})
		if held := ex.Hold != nil; held != !tc.until.IsZero() || (held && !ex.Hold.Until.Equal(tc.until)) {
			t.Errorf("%s: explanation's hold %+v; want until %v", tc.name, ex.Hold, tc.until)
		}
	}
}

// A hold in the recipient's zone reads the number's zone: 23:00 in Yangon
// is 17:30 in Berlin, quiet for a Myanmar number only.
func TestHoldInRecipientZone(t *testing.T) {
	src := providers("smpp", "a", "b") + `
routing {
  timezone = "UTC"
}
route "local-quiet" {
  match      = "kind == 'otp'"
  candidates = ["a"]
  quiet_hours {
    from = "22:00"
    to   = "07:00"
    zone = "recipient"
  }
}
route "default" {
  default    = true
  candidates = ["b"]
}
`
	at := time.Date(2026, 12, 7, 16, 30, 0, 0, time.UTC) // 23:00 in Yangon, 17:30 in Berlin
	r := routing.NewRouter(compile(t, src), nil, routing.WithClock(func() time.Time { return at }))
	mm, err := r.Plan(t.Context(), routing.Facts{To: "+959791234567", Country: "MM", Kind: "otp"})
	if err != nil || !strings.Contains(mm.Hold.Reason, "until 07:00 Asia/") || !mm.Hold.Until.Equal(time.Date(2026, 12, 8, 0, 30, 0, 0, time.UTC)) {
		t.Errorf("Myanmar number: hold %v %q (%v); want until 07:00 Yangon time", mm.Hold.Until, mm.Hold.Reason, err)
	}
	de, err := r.Plan(t.Context(), routing.Facts{To: "+4915123456789", Country: "DE", Kind: "otp"})
	if err != nil || de.Hold.Reason != "" {
		t.Errorf("German number: hold %q (%v); want none at 17:30 Berlin time", de.Hold.Reason, err)
	}
	// Not held, the explanation says which zone and time the window was
	// read in: the recipient's is shown nowhere else.
	text := r.Explain(t.Context(), routing.Facts{To: "+4915123456789", Country: "DE", Kind: "otp"}).Text()
	if want := "  hold    quiet_hours 22:00–07:00 in the recipient's zone (else UTC); not held: 17:30 mon in Europe/Berlin\n"; !strings.Contains(text, want) {
		t.Errorf("explanation lacks %q:\n%s", want, text)
	}
	none, err := r.Plan(t.Context(), routing.Facts{To: "+80012345678", Kind: "otp"})
	if err != nil || none.Hold.Reason != "" {
		t.Errorf("a number without a zone: hold %q (%v); want the routing zone's (16:30 UTC: none)", none.Hold.Reason, err)
	}
}

func TestExplainShowsHold(t *testing.T) {
	table := compile(t, providers("smpp", "a")+quietMarketing+`
route "default" {
  default    = true
  candidates = ["a"]
}
`)
	at := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC) // 22:30 in Yangon
	ex := routing.NewRouter(table, nil, routing.WithClock(func() time.Time { return at })).
		Explain(t.Context(), routing.Facts{To: "+959791234567", Country: "MM", Kind: "marketing"})
	text := ex.Text()
	for _, want := range []string{
		"  hold    quiet_hours 22:00–06:00 Asia/Yangon\n",
		"held      held for quiet hours until 06:00 Asia/Yangon (2026-12-08T06:00+06:30)\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explanation lacks %q:\n%s", want, text)
		}
	}
}
