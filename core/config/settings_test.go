package config_test

import (
	"testing"
)

// TestSettingRanges checks that each setting of a config block, nested or
// not, is found at its own line, and that paths without a place of their
// own fall back to the nearest enclosing one.
func TestSettingRanges(t *testing.T) {
	cfg := parseCase(t, `provider "a" {
  plugin = "sandbox"
  config = {
    accept_latency = "1s"
    "quoted-key"   = 2
    auth = {
      token = "x"
    }
    numbers = [
      "+1",
      { region = "EU" },
    ]
  }
}

provider "b" {
  plugin = "sandbox"
  config = true ? { a = 1 } : { b = 2 }
}

provider "c" {
  plugin = "sandbox"
}

route "default" {
  default    = true
  candidates = ["a"]
}
`, "")
	byName := map[string]int{}
	for i, p := range cfg.Providers {
		byName[p.Name] = i
	}
	for _, tc := range []struct {
		provider, path string
		line, column   int
	}{
		{"a", "accept_latency", 4, 5},
		{"a", "quoted-key", 5, 5},
		{"a", "auth", 6, 5},
		{"a", "auth.token", 7, 7},
		{"a", "auth.secret", 6, 5},
		{"a", "numbers.1.region", 11, 9},
		{"a", "numbers.0", 10, 7},
		{"a", "misspelt", 3, 3},
		{"a", "", 3, 3},
		{"b", "a", 18, 3},
		{"c", "anything", 21, 1},
	} {
		rng := cfg.Providers[byName[tc.provider]].SettingRanges.At(tc.path)
		if rng.Filename != "test.hcl" || rng.Start.Line != tc.line || rng.Start.Column != tc.column {
			t.Errorf("provider %s setting %q at %s:%d:%d, want test.hcl:%d:%d", tc.provider, tc.path, rng.Filename, rng.Start.Line, rng.Start.Column, tc.line, tc.column)
		}
	}
	if got, want := cfg.HookURL("a"), cfg.Server.PublicURL+"/api/v1/providers/a/hooks"; got != want {
		t.Errorf("HookURL = %q, want %q", got, want)
	}
}
