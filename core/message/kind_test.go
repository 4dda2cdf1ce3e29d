package message_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/message"
)

func TestKindValid(t *testing.T) {
	for _, k := range message.Kinds() {
		if !k.Valid() {
			t.Errorf("%q is listed but not valid", k)
		}
	}
	for _, k := range []message.Kind{"", "promo", "SMS", "marketting"} {
		if k.Valid() {
			t.Errorf("%q is valid, want refused", k)
		}
	}
}

func TestSenderKindOf(t *testing.T) {
	tests := []struct {
		sender string
		want   message.SenderKind
	}{
		{"MyShop", message.SenderAlphanumeric},
		{"+SHOP", message.SenderAlphanumeric},
		{"12345", message.SenderShortcode},
		{"12345678", message.SenderShortcode},
		{"123456789", message.SenderNumber},
		{"+14155550100", message.SenderNumber},
		{"+1", message.SenderNumber},
	}
	for _, tt := range tests {
		if got := message.SenderKindOf(tt.sender); got != tt.want {
			t.Errorf("SenderKindOf(%q) = %q, want %q", tt.sender, got, tt.want)
		}
	}
}
