package modem

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestCountryOfIMSI(t *testing.T) {
	cases := []struct {
		imsi, want string
	}{
		{"242016000000001", "NO"}, // Telenor Norway
		{"414090000000001", "MM"}, // Myanmar
		{"310260123456789", "US"}, // one of the US's seven MCCs
		{"316010000000001", "US"},
		{"235990000000001", "GB"}, // the UK's second MCC
		{"405860000000001", "IN"},
		{"340010000000001", "GP"}, // shared by the French Antilles: the largest
		{"901700000000001", ""},   // international networks name no country
		{"999990000000001", ""},   // not allocated
		{"24201", ""},             // too short to be an IMSI
		{"", ""},
	}
	for _, c := range cases {
		if got := countryOfIMSI(c.imsi); got != c.want {
			t.Errorf("countryOfIMSI(%q) = %q, want %q", c.imsi, got, c.want)
		}
	}
}

// Every entry is a three-digit MCC naming a region the numbering plan
// (libphonenumber) knows, so a port's country from its IMSI reads like one
// from its number.
func TestMCCTableNamesKnownRegions(t *testing.T) {
	known := phonenumbers.GetSupportedRegions()
	for mcc, cc := range mccCountries {
		if len(mcc) != 3 || mcc[0] < '2' || mcc[0] > '7' {
			t.Errorf("MCC %q: not a country MCC (2xx–7xx)", mcc)
		}
		if _, ok := known[cc]; !ok {
			t.Errorf("MCC %s → %q: not a region libphonenumber knows", mcc, cc)
		}
	}
	if n := len(mccCountries); n < 230 {
		t.Errorf("the table has %d MCCs; E.212 lists over 230 in operation", n)
	}
}
