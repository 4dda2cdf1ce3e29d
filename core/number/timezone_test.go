package number_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/number"
)

func TestTimeZone(t *testing.T) {
	tests := []struct{ number, want string }{
		{"+959791234567", "Asia/Rangoon"}, // libphonenumber keeps the older name of Asia/Yangon
		{"+4915123456789", "Europe/Berlin"},
		{"+12125550100", "America/New_York"}, // by area code
		{"+80012345678", ""},                 // no region
	}
	for _, tc := range tests {
		got := ""
		if loc := number.TimeZone(tc.number); loc != nil {
			got = loc.String()
		}
		if got != tc.want {
			t.Errorf("TimeZone(%s) = %q, want %q", tc.number, got, tc.want)
		}
	}
}
