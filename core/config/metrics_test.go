package config_test

import (
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
)

func TestMetricsBlock(t *testing.T) {
	const routes = `
provider "a" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["a"]
}
`
	tests := []struct {
		name, server string
		want         config.Metrics
	}{
		{"default: on the API listener, open", ``, config.Metrics{}},
		{"own listener with a token", `server {
  metrics {
    listen       = "127.0.0.1:9105"
    bearer_token = env("METRICS_TOKEN")
    db_refresh   = "1m"
  }
}`, config.Metrics{Listen: "127.0.0.1:9105", BearerToken: "tok3n", DatabaseRefresh: time.Minute}},
		{"switched off", `server {
  metrics {
    enabled = false
  }
}`, config.Metrics{Disabled: true}},
		{"without the database series", `server {
  metrics {
    enabled    = true
    listen     = ""
    db_refresh = "0s"
  }
}`, config.Metrics{NoDatabase: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts()
			o.LookupEnv = func(k string) (string, bool) { return "tok3n", k == "METRICS_TOKEN" }
			cfg, err := config.Parse([]byte(tc.server+routes), "metrics.hcl", o)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.Metrics != tc.want {
				t.Errorf("Metrics = %+v, want %+v", cfg.Server.Metrics, tc.want)
			}
		})
	}
}
