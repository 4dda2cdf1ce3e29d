package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestRouteExplainInbound(t *testing.T) {
	cfg := filepath.Join("..", "..", "core", "config", "testdata", "good", "inbound.hcl")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"a bank's text to a number outside the inventory",
			[]string{"--from", "KBZBank", "--to", "+959791234567", "--text", "KBZ: your code is 123456"},
			[]string{`country="MM" operator="Telenor"`, `rule "stop" (keyword in ['STOP', 'UNSUBSCRIBE']): no match`,
				`rule "bank-codes" (country == 'MM' && from startsWith 'KBZ'): matched`, `owner: account "bank" (rule "bank-codes")`,
				"look for a code: no (not a number of the inventory)", `webhook: https://bank.example.com/sms (rule "bank-codes")`}},
		{"a held number passes the account rules by",
			[]string{"--from", "KBZBank", "--to", "+959791234567", "--text", "Stop", "--held"},
			[]string{`rule "stop" (keyword in ['STOP', 'UNSUBSCRIBE']): passed over`, `rule "codes-everywhere" (true): matched`,
				"owner: the number's holder", "look for a code: yes (the rule says so)", "webhook: the owner's webhook URL"}},
		{"a short code of the inventory with its country",
			[]string{"--from", "+15550100", "--to", "55555", "--text", "unsubscribe me", "--inventory", "--country", "US"},
			[]string{`to="55555"`, `keyword="UNSUBSCRIBE"`, `country="US"`, `owner: account "compliance" (rule "stop")`, "look for a code: no (the rule says so)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := routeExplainCmd(t.Context(), append([]string{"--config", cfg, "--inbound"}, tc.args...), &out); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("explanation lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	// Regression: a number the config's provider block lists was
	// explained as outside the inventory (codes not looked for, owner
	// "the first account"), unlike the server, which adds it at start.
	listed := filepath.Join("testdata", "inbound-numbers.hcl")
	for _, to := range []string{"+959791234567", "55555"} {
		var out bytes.Buffer
		if err := routeExplainCmd(t.Context(), []string{"--config", listed, "--inbound", "--to", to, "--text", "STOP"}, &out); err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{`is in provider "mm-sims"'s numbers in the config`, `provider="mm-sims"`, "inventory=true held=false",
			"owner: nobody; kept for admins", "webhook: none (nobody owns it)"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: explanation lacks %q:\n%s", to, w, out.String())
			}
		}
	}
	var out bytes.Buffer
	err := routeExplainCmd(t.Context(), []string{"--config", cfg, "--inbound", "--to", "+15550100", "--text", "hi", "--json"}, &out)
	if err != nil || !strings.Contains(out.String(), `"extract_otp": "true"`) || !strings.Contains(out.String(), `"outcome": "matched"`) {
		t.Errorf("--json: %v\n%s", err, out.String())
	}
}
