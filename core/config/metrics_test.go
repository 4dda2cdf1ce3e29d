package config_test

import (
	"strings"
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
    count_refresh = "15m"
  }
}`, config.Metrics{Listen: "127.0.0.1:9105", BearerToken: "tok3n", DatabaseRefresh: time.Minute, CountRefresh: 15 * time.Minute}},
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
		{"without the message counts", `server {
  metrics {
    count_refresh = "0s"
  }
}`, config.Metrics{NoCounts: true}},
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

func TestMetricsListenIsNotTheAPIs(t *testing.T) {
	src := `
server {
  listen = "127.0.0.1:3005"
  metrics {
    listen = "127.0.0.1:3005"
  }
}
provider "a" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["a"]
}
`
	_, err := config.Parse([]byte(src), "metrics.hcl", opts())
	if err == nil || !strings.Contains(err.Error(), `metrics.hcl:4:3: Metrics listen is the API's`) {
		t.Fatalf("err = %v, want the metrics block's position and why", err)
	}
}
