package config_test

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/inbound"
)

func TestInboundFile(t *testing.T) {
	cfg, err := config.Load("testdata/good/inbound.hcl", opts())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Inbound.Len() != 3 || len(cfg.InboundRules) != 3 {
		t.Fatalf("%d inbound rules compiled of %d, want 3", cfg.Inbound.Len(), len(cfg.InboundRules))
	}
	tests := []struct {
		name string
		env  inbound.Env
		want inbound.Decision
	}{
		{"keyword", inbound.Env{Keyword: "STOP"},
			inbound.Decision{Rule: "stop", Account: "compliance", ExtractOTP: inbound.OTPSkip}},
		{"bank sender in Myanmar", inbound.Env{Country: "MM", From: "KBZBank", Keyword: "YOUR"},
			inbound.Decision{Rule: "bank-codes", Account: "bank", Webhook: "https://bank.example.com/sms"}},
		{"anything else", inbound.Env{Country: "US", From: "+15550100"},
			inbound.Decision{Rule: "codes-everywhere", ExtractOTP: inbound.OTPExtract}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cfg.Inbound.Decide(tc.env); got != tc.want {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Without inbound blocks the rules are empty, not nil, and decide nothing.
func TestNoInboundBlocks(t *testing.T) {
	cfg, err := config.Load("testdata/good/minimal.hcl", opts())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Inbound == nil || cfg.Inbound.Len() != 0 {
		t.Fatalf("inbound rules = %+v, want empty", cfg.Inbound)
	}
	if d := cfg.Inbound.Decide(inbound.Env{Text: "hi"}); d != (inbound.Decision{}) {
		t.Errorf("Decide = %+v, want nothing", d)
	}
}
