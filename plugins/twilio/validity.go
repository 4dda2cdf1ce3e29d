package twilio

import "time"

// validitySeconds is the ValidityPeriod to send for a message valid until
// until, at now: what is left of its validity in whole seconds (rounded
// down, so Twilio gives up no later than the host), capped by the
// validity_period setting and by Twilio's 36000 s. Zero means none to send
// (no validity and no setting). False means the validity has passed: less
// than the one second Twilio accepts is left.
func validitySeconds(setting time.Duration, until, now time.Time) (int, bool) {
	limit := maxValidityPeriod
	if setting > 0 {
		limit = min(setting, maxValidityPeriod)
	}
	if until.IsZero() {
		return int(setting / time.Second), true
	}
	left := until.Sub(now)
	if left < minValidityPeriod {
		return 0, false
	}
	return int(min(left, limit) / time.Second), true
}
