package inbound_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/routing"
)

func rule(name, match string, account string) inbound.RuleConfig {
	return inbound.RuleConfig{Name: name, Match: routing.Rule{Source: match}, Account: account}
}

func TestKeyword(t *testing.T) {
	for text, want := range map[string]string{
		"stop":                   "STOP",
		"  Stop. please":         "STOP",
		"«Join» the club":        "JOIN",
		"... ":                   "",
		"":                       "",
		"код 1234":               "КОД",
		"\x00\x01 weird control": "\x00\x01",
	} {
		if got := inbound.Keyword(text); got != want {
			t.Errorf("Keyword(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestDecideFirstMatchWins(t *testing.T) {
	_, err := inbound.Compile([]inbound.RuleConfig{
		rule("stop", "keyword == 'STOP'", "compliance"),
		rule("mm", "country == 'MM' && operator == 'Telenor'", "myanmar"),
		rule("held-codes", "held && provider == 'smpp-1'", ""),
		rule("short-code", "to == '55555'", "promo"),
	})
	// held-codes decides nothing and is refused.
	var ce *routing.CompileError
	if !errors.As(err, &ce) || len(ce.Diagnostics) != 1 || !strings.Contains(ce.Error(), "decides nothing") {
		t.Fatalf("Compile error = %v, want one \"decides nothing\"", err)
	}
	rs, err := inbound.Compile([]inbound.RuleConfig{
		rule("stop", "keyword == 'STOP'", "compliance"),
		rule("mm", "country == 'MM' && operator == 'Telenor'", "myanmar"),
		{Name: "held-codes", Match: routing.Rule{Source: "held && provider == 'smpp-1'"}, ExtractOTP: inbound.OTPExtract},
		rule("short-code", "to == '55555'", "promo"),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		m    inbound.Message
		n    inbound.NumberFacts
		prov string
		want string
	}{
		{"keyword before country", inbound.Message{Recipient: "+959791234567", Text: "stop"}, inbound.NumberFacts{}, "x", "stop"},
		{"country and operator from libphonenumber", inbound.Message{Recipient: "959791234567", Text: "hi"}, inbound.NumberFacts{}, "x", "mm"},
		{"country and operator from the inventory", inbound.Message{Recipient: "55555", Text: "hi"},
			inbound.NumberFacts{InInventory: true, Country: "MM", Operator: "Telenor"}, "x", "mm"},
		{"held", inbound.Message{Recipient: "+15550100001", Text: "code 1234"}, inbound.NumberFacts{InInventory: true, Held: true, Country: "US"}, "smpp-1", "held-codes"},
		{"short code", inbound.Message{Recipient: "55555", Text: "yes"}, inbound.NumberFacts{InInventory: true, Country: "US"}, "x", "short-code"},
		{"nothing", inbound.Message{Recipient: "+15550100001", Text: "hello"}, inbound.NumberFacts{}, "x", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rs.Decide(inbound.EnvOf(tc.prov, &tc.m, tc.n)); got.Rule != tc.want {
				t.Errorf("rule %q decided, want %q (%+v)", got.Rule, tc.want, got)
			}
		})
	}
}

func TestCompileErrorsPointInsideTheRule(t *testing.T) {
	at := hcl.Range{Filename: "smsrouter.hcl", Start: hcl.Pos{Line: 7, Column: 13}}
	_, err := inbound.Compile([]inbound.RuleConfig{
		{Name: "a", Match: routing.Rule{Source: "keyword == 'X' && sendr == 'Y'", Range: at,
			At: func(off int) hcl.Pos { return hcl.Pos{Line: 7, Column: 14 + off} }}, Account: "x"},
		{Name: "a", Match: routing.Rule{Source: "true"}, Account: "x", Range: at},
	})
	want := `smsrouter.hcl:7:32: Invalid rule: inbound "a" match: unknown name sendr`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "Duplicate inbound rule") {
		t.Fatalf("error = %v, want %s and a duplicate", err, want)
	}
}

func TestNilRulesDecideNothing(t *testing.T) {
	var rs *inbound.Rules
	if rs.Len() != 0 || rs.Decide(inbound.Env{Keyword: "STOP"}) != (inbound.Decision{}) || rs.WithLogger(nil) != nil {
		t.Error("nil rules decided something")
	}
}

// A rule failing at run time is skipped, and the explanation says why.
func TestExplainShowsEachRule(t *testing.T) {
	rs, err := inbound.Compile([]inbound.RuleConfig{
		rule("numeric", "int(text) > 3", "maths"),
		rule("stop", "keyword == 'STOP'", "compliance"),
		rule("never", "false", "nobody"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ex := rs.Explain(inbound.Env{Text: "stop now", Keyword: "STOP"})
	if len(ex.Steps) != 2 || ex.Steps[0].Outcome != inbound.StepFailed || ex.Steps[0].Error == "" ||
		ex.Steps[1].Outcome != inbound.StepMatched || ex.Decision.Account != "compliance" {
		t.Fatalf("explanation %+v", ex)
	}
	if d := rs.Decide(inbound.Env{Text: "stop now", Keyword: "STOP"}); d != ex.Decision {
		t.Errorf("Decide = %+v, Explain decided %+v", d, ex.Decision)
	}
	for _, want := range []string{`rule "numeric" (int(text) > 3): failed: `, `rule "stop" (keyword == 'STOP'): matched`, `owner: account "compliance"`} {
		if !strings.Contains(ex.Text(), want) {
			t.Errorf("text lacks %q:\n%s", want, ex.Text())
		}
	}
}
