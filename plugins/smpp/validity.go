package smpp

import (
	"fmt"
	"time"

	"github.com/linxGnu/gosmpp/pdu"

	"github.com/smsrouter/smsrouter/sdk"
)

// How validity_period is written.
const (
	validityRelative = "relative"
	validityAbsolute = "absolute"
	validityNone     = "none"
)

const (
	// codeExpired is the result code of a message whose validity passed
	// before it could be submitted.
	codeExpired = "EXPIRED"
	// maxRelativeValidity is the longest relative validity_period written.
	// SMPP 3.4 does not say how long a relative month or year is, so the
	// period is written in days, hours, minutes and seconds, and days stay
	// within a month; SMSCs cap validity far below that anyway.
	maxRelativeValidity = 30*24*time.Hour + 23*time.Hour + 59*time.Minute + 59*time.Second
	// validityPlaceholder keeps the validity_period's place in a marshalled
	// submit_sm until the part is submitted: both forms are 16 characters.
	validityPlaceholder = "000000000000000R"
)

// validityPeriod returns the validity_period for a message valid until
// until and submitted at now ("" when until is zero or mode is none), and
// false when the validity has passed. Less than a second left counts as
// passed: it cannot be written in the relative form, and a relative
// period of zero means "the SMSC's default" to some SMSCs.
func validityPeriod(mode string, until, now time.Time) (string, bool) {
	if until.IsZero() {
		return "", true
	}
	left := until.Sub(now)
	if left < time.Second {
		return "", false
	}
	switch mode {
	case validityNone:
		return "", true
	case validityAbsolute:
		// In UTC, so nothing depends on the SMSC's time zone; tenths are
		// truncated so the network never outlasts the host.
		u := until.UTC()
		return fmt.Sprintf("%s%d00+", u.Format("060102150405"), u.Nanosecond()/int(100*time.Millisecond)), true
	}
	// Relative to the submit, so a skewed SMSC clock does not matter;
	// whole seconds rounded down, for the same reason as the tenths above.
	secs := int64(min(left, maxRelativeValidity) / time.Second)
	days, secs := secs/86400, secs%86400
	hours, secs := secs/3600, secs%3600
	mins, secs := secs/60, secs%60
	return fmt.Sprintf("0000%02d%02d%02d%02d000R", days, hours, mins, secs), true
}

// validityOffset is where the validity_period's characters start in sm
// marshalled: after the header, service_type, both addresses (TON, NPI,
// C-string), esm_class, protocol_id, priority_flag and
// schedule_delivery_time.
func validityOffset(sm *pdu.SubmitSM) int {
	return 16 + len(sm.ServiceType) + 1 +
		2 + len(sm.SourceAddr.Address()) + 1 +
		2 + len(sm.DestAddr.Address()) + 1 +
		3 + len(sm.ScheduleDeliveryTime) + 1
}

// expire answers a part whose message's validity passed before it could
// be submitted: the host records it expired, not failed (see
// sdk.Message.ValidUntil).
func (p *Provider) expire(pt *part) {
	pt.mu.Lock()
	pt.code = codeExpired
	pt.mu.Unlock()
	p.settle(pt, 0, sdk.OutcomeExpired, "", "validity period passed before the message could be submitted")
}
