package routing

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// HoldConfig is a route's hold action: the messages it takes wait, queued,
// until a time of day instead of going at once. hold_until sets Until;
// a quiet_hours block sets From and To. A route has one or the other.
type HoldConfig struct {
	// Until ("HH:MM") holds every message the route takes until the clock
	// next shows it; the route's match says when that applies (e.g.
	// hour >= 22 || hour < 6).
	Until string
	// From and To ("HH:MM") are quiet hours: a message the route takes
	// from From until To (across midnight when From is later) waits until
	// To; outside them the route sends at once.
	From, To string
	// Zone is the IANA time zone the times are read in; "" is the routing
	// time zone, ZoneRecipient the recipient's.
	Zone string

	// Range is the hold_until attribute or the quiet_hours block; the
	// others point at the values, or at Range when absent.
	Range, UntilRange, FromRange, ToRange, ZoneRange hcl.Range
	// Both is set when the route has both hold_until and quiet_hours.
	Both bool
}

// ZoneRecipient as a hold's zone reads its times in the recipient's time
// zone (Settings.RecipientZone), falling back to the routing time zone.
const ZoneRecipient = "recipient"

// Hold is a decision to defer a message: it waits queued until Until.
type Hold struct {
	Until time.Time `json:"until"`
	// Reason is said in the message's status while it waits, e.g. "held
	// for quiet hours until 06:00 Asia/Yangon".
	Reason string `json:"reason"`
}

// hold is a compiled HoldConfig.
type hold struct {
	quiet    bool
	from, to int // minutes after midnight; to is also hold_until's time
	loc      *time.Location
	// recipient reads the times in the recipient's zone, when known.
	recipient bool
}

var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// clockMinutes reads "HH:MM" as minutes after midnight.
func clockMinutes(s string) (int, bool) {
	m := clockPattern.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	return int(m[1][0]-'0')*600 + int(m[1][1]-'0')*60 + int(m[2][0]-'0')*10 + int(m[2][1]-'0'), true
}

// compileHold checks a route's hold action; nil when it has none.
func compileHold(route string, hc *HoldConfig, routingZone *time.Location) (*hold, hcl.Diagnostics) {
	if hc == nil {
		return nil, nil
	}
	var diags hcl.Diagnostics
	if hc.Both {
		diags = append(diags, errorAt(hc.Range, "Two holds",
			fmt.Sprintf("route %q has both hold_until and quiet_hours; keep one: quiet_hours { from = \"22:00\" to = \"06:00\" } holds only inside the window, hold_until holds every message the route takes", route)))
	}
	h := &hold{loc: routingZone, quiet: hc.Until == ""}
	if hc.Zone == ZoneRecipient {
		h.recipient = true
	} else if hc.Zone != "" {
		loc, err := time.LoadLocation(hc.Zone)
		if err != nil || strings.EqualFold(hc.Zone, "local") {
			diags = append(diags, errorAt(hc.ZoneRange, "Unknown time zone",
				fmt.Sprintf("route %q: zone %q is not an IANA time zone name such as \"Asia/Yangon\" or \"Europe/Berlin\"; leave zone out for the routing time zone, or write %q for the recipient's", route, hc.Zone, ZoneRecipient)))
		} else {
			h.loc = loc
		}
	}
	clock := func(v string, rng hcl.Range, what string) int {
		m, ok := clockMinutes(v)
		if !ok {
			diags = append(diags, errorAt(rng, "Invalid time of day",
				fmt.Sprintf("route %q: %s %q is not a time of day such as \"06:00\" (24-hour HH:MM)", route, what, v)))
		}
		return m
	}
	if !h.quiet {
		h.to = clock(hc.Until, hc.UntilRange, "hold_until")
		return h, diags
	}
	h.from = clock(hc.From, hc.FromRange, "quiet_hours from")
	h.to = clock(hc.To, hc.ToRange, "quiet_hours to")
	if !diags.HasErrors() && h.from == h.to {
		diags = append(diags, errorAt(hc.Range, "Empty quiet hours",
			fmt.Sprintf("route %q: quiet hours from %s to %s hold nothing; give the window, such as from = \"22:00\" to = \"06:00\"", route, hc.From, hc.To)))
	}
	return h, diags
}

// decide returns when a message to the recipient to, routed at now, may
// go, or false when it may go at once.
func (h *hold) decide(now time.Time, to string, recipientZone func(string) *time.Location) (Hold, bool) {
	loc := h.zone(to, recipientZone)
	local := now.In(loc)
	if h.quiet {
		m := local.Hour()*60 + local.Minute()
		in := h.from <= m && m < h.to
		if h.from > h.to { // the window wraps past midnight
			in = m >= h.from || m < h.to
		}
		if !in {
			return Hold{}, false
		}
	}
	y, mo, d := local.Date()
	until := time.Date(y, mo, d, h.to/60, h.to%60, 0, 0, loc)
	if !until.After(local) {
		if local.Sub(until) < time.Minute {
			return Hold{}, false // hold_until's own minute: the time has come
		}
		until = time.Date(y, mo, d+1, h.to/60, h.to%60, 0, 0, loc)
	}
	what := "held"
	if h.quiet {
		what = "held for quiet hours"
	}
	return Hold{Until: until, Reason: fmt.Sprintf("%s until %s %s", what, clockTimes[h.to], loc)}, true
}

// zone is the time zone the hold reads its times in for recipient to.
func (h *hold) zone(to string, recipientZone func(string) *time.Location) *time.Location {
	if h.recipient && recipientZone != nil {
		if l := recipientZone(to); l != nil {
			return l
		}
	}
	return h.loc
}

// notHeld says, for explanations, why a message routed at now goes at
// once: the local time the hold read, and in which zone (the recipient's
// is otherwise nowhere in the explanation).
func (h *hold) notHeld(now time.Time, to string, recipientZone func(string) *time.Location) string {
	loc := h.zone(to, recipientZone)
	return fmt.Sprintf("not held: %s %s in %s", now.In(loc).Format("15:04"), strings.ToLower(now.In(loc).Format("Mon")), loc)
}

// describe is the hold action as explanations show it.
func (h *hold) describe() string {
	zone := h.loc.String()
	if h.recipient {
		zone = "in the recipient's zone (else " + zone + ")"
	}
	if h.quiet {
		return fmt.Sprintf("quiet_hours %s–%s %s", clockTimes[h.from], clockTimes[h.to], zone)
	}
	return fmt.Sprintf("hold_until %s %s", clockTimes[h.to], zone)
}
