package smsctest_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
)

func TestValidTime(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"000001000000000R", true},
		{"000000023015000R", true},
		{"300304073622400+", true},
		{"300304073622448-", true},
		{"300304073622449+", false}, // offset beyond 12 hours
		{"301304073622400+", false}, // month 13
		{"000000023015100R", false}, // relative with tenths
		{"00000002301500R", false},  // 15 characters
		{"000000023015000X", false},
		{"0000000230a5000R", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := smsctest.ValidTime(tt.v); got != tt.want {
			t.Errorf("ValidTime(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
