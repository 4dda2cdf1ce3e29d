package config_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
)

func TestRetentionBlock(t *testing.T) {
	const base = `
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
%s
`
	const day = 24 * time.Hour
	tests := []struct {
		name, block string
		want        config.Retention
		wantErr     string
	}{
		{"absent", ``, config.Retention{Webhooks: 30 * day, EventIDs: 30 * day}, ""},
		{"both", "retention {\n  webhooks  = \"168h\"\n  event_ids = \"72h\"\n}", config.Retention{Webhooks: 7 * day, EventIDs: 3 * day}, ""},
		{"one", "retention {\n  webhooks = \"2160h\"\n}", config.Retention{Webhooks: 90 * day, EventIDs: 30 * day}, ""},
		{"webhooks too short", "retention {\n  webhooks = \"30m\"\n}", config.Retention{},
			`test.hcl:10:14: Invalid retention: webhooks must be at least 1h0m0s`},
		{"event ids too short", "retention {\n  event_ids = \"1h\"\n}", config.Retention{},
			`test.hcl:10:15: Invalid retention: event_ids must be at least 24h0m0s (a provider may re-emit an event hours later), got "1h0m0s"`},
		{"not a duration", "retention {\n  webhooks = \"30 days\"\n}", config.Retention{}, `test.hcl:10:14: Invalid duration`},
		{"zero", "retention {\n  webhooks = \"0s\"\n}", config.Retention{}, `test.hcl:10:14: Invalid duration`},
		{"unknown attribute", "retention {\n  messages = \"1h\"\n}", config.Retention{}, `test.hcl:10:3: Unsupported argument`},
		{"twice", "retention {\n}\nretention {\n}", config.Retention{}, `test.hcl:11:1: Duplicate retention block`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.block), tt.wantErr)
			if cfg == nil {
				return
			}
			if cfg.Retention != tt.want {
				t.Errorf("Retention = %+v, want %+v", cfg.Retention, tt.want)
			}
		})
	}
}
