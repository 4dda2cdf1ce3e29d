package smpp

import (
	"strings"

	"github.com/linxGnu/gosmpp/pdu"
	"github.com/nyaruka/phonenumbers"
)

// SMPP type-of-number values that say how to read an address's digits.
const (
	tonUnknown       = 0
	tonInternational = 1
	tonNational      = 2
	tonSubscriber    = 4
)

// phoneNumber writes an address from a deliver_sm the way smsrouter stores
// numbers: E.164 with "+" where it can tell the country. International
// (TON 1) digits get their "+"; unknown, national and subscriber numbers
// (TON 0, 2, 4) are read in the configured country, else taken as
// international when that makes a valid number (SMSCs write "79160000002"
// with TON 0 as often as with TON 1). Short codes, alphanumeric senders and
// whatever else stays as the SMSC wrote it.
func phoneNumber(a pdu.Address, country string) string {
	addr := strings.TrimSpace(a.Address())
	d := strings.TrimPrefix(addr, "+")
	if d == "" || strings.Trim(d, "0123456789") != "" {
		return addr
	}
	switch a.Ton() {
	case tonInternational:
		return "+" + d
	case tonUnknown, tonNational, tonSubscriber:
		if strings.HasPrefix(addr, "+") {
			return addr
		}
		if country != "" {
			if e164, ok := validNumber(d, country); ok {
				return e164
			}
		}
		if e164, ok := validNumber("+"+d, ""); ok {
			return e164
		}
	}
	return addr
}

// validNumber parses raw in region and returns it in E.164 when it is a
// valid number there.
func validNumber(raw, region string) (string, bool) {
	pn, err := phonenumbers.Parse(raw, region)
	if err != nil || !phonenumbers.IsValidNumber(pn) {
		return "", false
	}
	return phonenumbers.Format(pn, phonenumbers.E164), true
}
