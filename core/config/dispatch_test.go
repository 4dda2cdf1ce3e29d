package config_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
)

func TestDispatchBlock(t *testing.T) {
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
	tests := []struct {
		name, block string
		want        config.Dispatch
		wantErr     string
	}{
		{"absent", ``, config.Dispatch{}, ""},
		{"both", "dispatch {\n  send_timeout = \"1s\"\n  lease = \"3s\"\n}", config.Dispatch{SendTimeout: time.Second, Lease: 3 * time.Second}, ""},
		{"lease against the default timeout", "dispatch {\n  lease = \"5m\"\n}", config.Dispatch{Lease: 5 * time.Minute}, ""},
		{"lease shorter than the timeout", "dispatch {\n  send_timeout = \"10s\"\n  lease = \"10s\"\n}", config.Dispatch{},
			`test.hcl:11:11: Lease too short: lease 10s must exceed send_timeout (10s) by at least 1s`},
		{"lease shorter than the default timeout", "dispatch {\n  lease = \"30s\"\n}", config.Dispatch{},
			`test.hcl:10:11: Lease too short: lease 30s must exceed send_timeout (1m0s)`},
		{"timeout not a duration", "dispatch {\n  send_timeout = \"soon\"\n}", config.Dispatch{}, `test.hcl:10:18: Invalid duration`},
		{"unknown attribute", "dispatch {\n  lease_time = \"1m\"\n}", config.Dispatch{}, `test.hcl:10:3: Unsupported argument`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.block), tt.wantErr)
			if cfg == nil {
				return
			}
			if cfg.Dispatch != tt.want {
				t.Errorf("Dispatch = %+v, want %+v", cfg.Dispatch, tt.want)
			}
		})
	}
}
