package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
)

// The reload log line says what a reload changed, so an operator reading
// the log can tell the edit that took effect from one that did not.
func TestConfigChanges(t *testing.T) {
	const base = `
provider "a" {
  plugin = "sandbox"
  pricing { default = 0.05 }
}
provider "b" {
  plugin = "sandbox"
}
route "otp" {
  match      = "kind == 'otp'"
  candidates = ["a", "b"]
}
%s
route "default" {
  default    = true
  candidates = ["a"]
}
`
	parse := func(t *testing.T, extra string, edit func(string) string) *config.Config {
		t.Helper()
		src := fmt.Sprintf(base, extra)
		if edit != nil {
			src = edit(src)
		}
		cfg, err := config.Parse([]byte(src), "smsrouter.hcl", config.Options{BuiltinKinds: builtinKinds()})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	replace := func(old, cur string) func(string) string {
		return func(s string) string { return replaceOnce(t, s, old, cur) }
	}
	tests := []struct {
		name  string
		extra string
		edit  func(string) string
		want  string
	}{
		{"nothing", "", nil, "[changes none]"},
		{"route added", "route \"mm\" {\n  match = \"country == 'MM'\"\n  candidates = [\"b\"]\n}", nil, "[routes_added mm]"},
		{"route changed", "", replace(`["a", "b"]`, `["b", "a"]`), "[routes_changed otp]"},
		{"route removed", "", replace("route \"otp\" {\n  match      = \"kind == 'otp'\"\n  candidates = [\"a\", \"b\"]\n}", ""), "[routes_removed otp]"},
		{"pricing", "", replace("default = 0.05", "default = 0.06"), "[pricing_changed a]"},
		{"routing block", "routing {\n  timezone = \"Asia/Yangon\"\n}", nil, "[routing_block_changed true]"},
	}
	old := parse(t, "", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fmt.Sprint(configChanges(old, parse(t, tt.extra, tt.edit)))
			if got != tt.want {
				t.Errorf("changes = %s, want %s", got, tt.want)
			}
		})
	}
}

func replaceOnce(t *testing.T, s, old, cur string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the config", old)
	}
	return strings.Replace(s, old, cur, 1)
}
