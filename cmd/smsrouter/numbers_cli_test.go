package main

import (
	"strings"
	"testing"
)

// An operator adds, lists and retires numbers from the command line; a
// typo or an unknown provider changes nothing and says why.
func TestCLINumbers(t *testing.T) {
	cfg := cliConfig(t, "127.0.0.1:0", `  plugin = "sandbox"`)
	// The first key creates the database the numbers commands expect.
	cliRun(t, "keys", "create", "--name", "ops", "--perm", "system_admin", "--config", cfg).expect(t, 0, nil, nil)

	cliRun(t, "numbers", "add", "+15017122661", "--provider", "p1", "--config", cfg).
		expect(t, 0, []string{"+15017122661 (US", "added, available"}, nil)
	cliRun(t, "numbers", "add", "12345", "--country", "US", "--config", cfg).expect(t, 0, []string{"12345 (US) added, available"}, nil)
	failures := []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"not a number", []string{"add", "+1 not a number"}, "+1 not a number"},
		{"unknown provider", []string{"add", "+15017122662", "--provider", "nope"}, `no provider "nope" in the config`},
		{"unknown subcommand", []string{"lend"}, "want one of"},
	}
	for _, f := range failures {
		res := cliRun(t, append(append([]string{"numbers"}, f.args...), "--config", cfg)...)
		if res.code == 0 || !strings.Contains(res.stderr, f.inStderr) {
			t.Errorf("%s: want a failure saying %q:\n%s", f.name, f.inStderr, res)
		}
	}

	list := cliRun(t, "numbers", "list", "--config", cfg)
	list.expect(t, 0, []string{"NUMBER", "+15017122661", "available"}, nil)
	if strings.Contains(list.stdout, "+15017122662") {
		t.Errorf("a refused number is listed:\n%s", list)
	}
	cliRun(t, "numbers", "retire", "+15017122661", "--config", cfg).expect(t, 0, []string{"retired"}, nil)
	retired := cliRun(t, "numbers", "list", "--state", "retired", "--config", cfg)
	retired.expect(t, 0, []string{"+15017122661"}, nil)
	if strings.Count(retired.stdout, "\n") != 2 {
		t.Errorf("list --state retired: want the header and one number:\n%s", retired)
	}
}
