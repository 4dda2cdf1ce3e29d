package main

import (
	"strings"
	"testing"
)

func TestCLIAccounts(t *testing.T) {
	cfg := cliConfig(t, "127.0.0.1:0", `  plugin = "sandbox"`)
	// keys create makes the first account, "default".
	cliRun(t, "keys", "create", "--name", "ops", "--config", cfg).expect(t, 0, nil, nil)

	cliRun(t, "accounts", "credit", "default", "25.5", "--reason", "invoice 7", "--config", cfg).
		expect(t, 0, []string{"topup 25.5 USD, balance now 25.5 USD"}, nil)
	cliRun(t, "accounts", "credit", "--config", cfg, "default", "-0.5").
		expect(t, 0, []string{"adjustment -0.5 USD, balance now 25 USD"}, nil)
	cliRun(t, "accounts", "limit", "default", "0", "--config", cfg).expect(t, 0, []string{"credit limit 0"}, nil)
	cliRun(t, "accounts", "low-balance", "default", "5", "--config", cfg).expect(t, 0, []string{"low-balance threshold 5"}, nil)
	cliRun(t, "accounts", "bodies", "default", "masked", "--config", cfg).expect(t, 0, []string{"message bodies masked"}, nil)

	list := cliRun(t, "accounts", "list", "--config", cfg)
	list.expect(t, 0, []string{"BALANCE", "CREDIT LIMIT"}, nil)
	var row []string
	for _, line := range strings.Split(list.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "default" {
			row = f
		}
	}
	// ID NAME BALANCE CURRENCY LIMIT LOW BODIES CREATED
	if len(row) != 8 || row[2] != "25" || row[3] != "USD" || row[4] != "0" || row[5] != "5" || row[6] != "masked" {
		t.Errorf("accounts list row = %q, want balance 25 USD, limit 0, low balance 5, bodies masked\n%s", row, list)
	}
	cliRun(t, "accounts", "limit", "default", "none", "--config", cfg).expect(t, 0, []string{"credit limit none"}, nil)

	for _, tt := range []struct {
		name     string
		args     []string
		inStderr string
	}{
		{"bad amount", []string{"credit", "default", "12,50"}, "not an amount"},
		{"too precise", []string{"credit", "default", "0.0000001"}, "more than 6 decimal places"},
		{"zero", []string{"credit", "default", "0"}, "the amount is zero"},
		{"unknown account", []string{"credit", "nobody", "1"}, `no account named "nobody"`},
		{"missing amount", []string{"limit", "default"}, "1 arguments given, want 2"},
		{"negative limit", []string{"limit", "default", "-1"}, "negative"},
		{"unknown subcommand", []string{"close"}, `unknown subcommand "close"`},
		{"unknown bodies policy", []string{"bodies", "default", "hashed"}, `is not one of "full"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cliRun(t, append(append([]string{"accounts"}, tt.args...), "--config", cfg)...).expect(t, 1, nil, []string{tt.inStderr})
		})
	}
}
