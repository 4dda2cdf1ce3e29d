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

// Regression: a changed quiet_hours window or inbound rule was reloaded
// with "changes=none" in the log.
func TestConfigChangesHoldsAndInbound(t *testing.T) {
	const src = `
provider "a" {
  plugin = "sandbox"
}
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["a"]
  quiet_hours {
    from = "21:00"
    to   = "06:00"
  }
}
route "default" {
  default    = true
  candidates = ["a"]
}
inbound "stop" {
  match       = "keyword == 'STOP'"
  extract_otp = false
}
inbound "bank" {
  match   = "from startsWith 'KBZ'"
  account = "bank"
}
`
	parse := func(t *testing.T, s string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(s), "smsrouter.hcl", config.Options{BuiltinKinds: builtinKinds()})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	old := parse(t, src)
	tests := []struct {
		name, from, to, want string
	}{
		{"quiet hours", `from = "21:00"`, `from = "22:00"`, "[routes_changed marketing]"},
		{"hold's zone", `to   = "06:00"`, "to   = \"06:00\"\n    zone = \"recipient\"", "[routes_changed marketing]"},
		{"inbound account", `account = "bank"`, `account = "bnak"`, "[inbound_changed bank]"},
		{"inbound removed", "inbound \"stop\" {\n  match       = \"keyword == 'STOP'\"\n  extract_otp = false\n}", "", "[inbound_changed stop]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(configChanges(old, parse(t, replaceOnce(t, src, tt.from, tt.to)))); got != tt.want {
				t.Errorf("changes = %s, want %s", got, tt.want)
			}
		})
	}
	reordered := strings.Replace(src, "inbound \"stop\" {\n  match       = \"keyword == 'STOP'\"\n  extract_otp = false\n}", "", 1) +
		"inbound \"stop\" {\n  match       = \"keyword == 'STOP'\"\n  extract_otp = false\n}\n"
	if got := fmt.Sprint(configChanges(old, parse(t, reordered))); got != "[inbound_reordered true]" {
		t.Errorf("reordered inbound rules: changes = %s", got)
	}
	if got := fmt.Sprint(configChanges(old, parse(t, src))); got != "[changes none]" {
		t.Errorf("same file: changes = %s", got)
	}
}

func replaceOnce(t *testing.T, s, old, cur string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not in the config", old)
	}
	return strings.Replace(s, old, cur, 1)
}
