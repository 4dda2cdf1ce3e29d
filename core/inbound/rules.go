package inbound

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/routing"
)

// OTPChoice is what an inbound rule says about looking for a one-time
// code in the messages it matches.
type OTPChoice int

const (
	// OTPDefault leaves it as without rules: codes are looked for in
	// messages to the inventory's numbers only.
	OTPDefault OTPChoice = iota
	// OTPExtract looks for a code in every message the rule matches that
	// has an owner.
	OTPExtract
	// OTPSkip never looks for one (the text is not a code, or the owner
	// parses it itself).
	OTPSkip
)

// RuleConfig is one decoded inbound block.
type RuleConfig struct {
	// Name is the block label: inbound "bank-otp" { ... }.
	Name string
	// Match selects the messages the rule decides for.
	Match routing.Rule
	// Account is the name of the account that owns the messages the rule
	// matches when their number has no holder; "" claims nothing.
	Account string
	// ExtractOTP is what the rule says about one-time codes.
	ExtractOTP OTPChoice
	// Webhook is where the owner's events about these messages go instead
	// of its account webhook; "" keeps the account's.
	Webhook string
	// Range is the block's header, for errors about the whole block.
	Range hcl.Range
}

// Env is what an inbound rule's match sees: the message and its number
// under their rule names. Keep docs/numbers.md's table in step with it.
type Env struct {
	To   string `expr:"to" json:"to"`
	From string `expr:"from" json:"from"`
	Text string `expr:"text" json:"text"`
	// Keyword is the text's first word, upper-cased, without the
	// punctuation around it: "stop." and "Stop" are both "STOP".
	Keyword  string `expr:"keyword" json:"keyword"`
	Provider string `expr:"provider" json:"provider"`
	// Country and Operator are those of To: the inventory's when the
	// number is in it, otherwise libphonenumber's.
	Country  string `expr:"country" json:"country"`
	Operator string `expr:"operator" json:"operator"`
	// Inventory says To is a number of the inventory; Held that an
	// account holds it (or did until a quarantine still running).
	Inventory bool `expr:"inventory" json:"inventory"`
	Held      bool `expr:"held" json:"held"`
}

// envVars are Env's rule names, for hints and explanations.
var envVars = []string{"to", "from", "text", "keyword", "provider", "country", "operator", "inventory", "held"}

// NumberFacts is what the inventory knows of a message's number.
type NumberFacts struct {
	InInventory bool
	Held        bool
	Country     string
	Operator    string
}

// EnvOf is the rule environment of a message m from provider whose
// number the inventory describes as n.
func EnvOf(provider string, m *Message, n NumberFacts) Env {
	e := Env{To: m.Recipient, From: m.Sender, Text: m.Text, Keyword: Keyword(m.Text), Provider: provider,
		Inventory: n.InInventory, Held: n.Held, Country: n.Country, Operator: n.Operator}
	if !n.InInventory {
		to := m.Recipient
		if !strings.HasPrefix(to, "+") {
			to = "+" + to
		}
		if p, err := number.Parse(to); err == nil {
			e.Country, e.Operator = p.Country, p.Operator
		}
	}
	return e
}

// Keyword is text's first word, upper-cased, without the punctuation
// around it; "" for a text without words.
func Keyword(text string) string {
	for _, w := range strings.Fields(text) {
		w = strings.TrimFunc(w, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if w != "" {
			return strings.ToUpper(w)
		}
	}
	return ""
}

// Decision is what the inbound rules say about one message.
type Decision struct {
	// Rule is the name of the rule that matched; "" when none did.
	Rule string `json:"rule,omitempty"`
	// Account is the matching rule's account name, "" when it names none.
	Account    string    `json:"account,omitempty"`
	ExtractOTP OTPChoice `json:"extract_otp"`
	Webhook    string    `json:"webhook,omitempty"`
}

// MarshalText writes the choice as explanations show it: default, true
// or false, as the config's extract_otp is written (or left out).
func (c OTPChoice) MarshalText() ([]byte, error) {
	switch c {
	case OTPExtract:
		return []byte("true"), nil
	case OTPSkip:
		return []byte("false"), nil
	}
	return []byte("default"), nil
}

// Rules is a compiled, immutable list of inbound rules, tried in order;
// the first that matches decides. The zero value and nil decide nothing.
type Rules struct {
	rules []compiled
	log   hclog.Logger
}

type compiled struct {
	cfg  RuleConfig
	prog *vm.Program
}

// Compile checks and compiles the inbound blocks. On failure the error is
// a *routing.CompileError listing every problem at its position in the
// file: match rules that do not compile, repeated names, blocks without a
// match or that decide nothing.
func Compile(cfgs []RuleConfig) (*Rules, error) {
	var diags hcl.Diagnostics
	rs := &Rules{}
	seen := map[string]hcl.Range{}
	for _, c := range cfgs {
		if prev, dup := seen[c.Name]; dup {
			diags = append(diags, errorAt(c.Range, "Duplicate inbound rule",
				fmt.Sprintf("inbound %q is already defined on line %d; inbound rule names must be unique", c.Name, prev.Start.Line)))
		}
		seen[c.Name] = c.Range
		if c.Account == "" && c.ExtractOTP == OTPDefault && c.Webhook == "" {
			diags = append(diags, errorAt(c.Range, "Inbound rule decides nothing",
				fmt.Sprintf("inbound %q must set account, extract_otp or webhook", c.Name)))
		}
		if c.Match.Source == "" {
			diags = append(diags, errorAt(c.Range, "Missing match",
				fmt.Sprintf("inbound %q needs a match rule such as match = \"keyword == 'STOP'\" (match = \"true\" takes every message)", c.Name)))
			continue
		}
		prog, d := routing.CompileExpr(c.Match, Env{}, envVars, fmt.Sprintf("inbound %q match", c.Name))
		if d != nil {
			diags = append(diags, d)
			continue
		}
		rs.rules = append(rs.rules, compiled{cfg: c, prog: prog})
	}
	if diags.HasErrors() {
		return nil, &routing.CompileError{Diagnostics: diags}
	}
	return rs, nil
}

// WithLogger returns the rules logging rule failures at run time to log.
func (rs *Rules) WithLogger(log hclog.Logger) *Rules {
	if rs == nil {
		return nil
	}
	c := *rs
	c.log = log
	return &c
}

// Len is how many rules there are.
func (rs *Rules) Len() int {
	if rs == nil {
		return 0
	}
	return len(rs.rules)
}

// Decide runs the rules on env in order and returns the first match's
// decision. A rule naming an account claims only messages to numbers
// nobody holds, so it is passed over for a held number: the holder's
// messages are the holder's, sent where the holder says. A rule that
// fails at run time (a type error the compiler could not see) is logged
// and skipped: the message is kept whatever happens.
func (rs *Rules) Decide(env Env) Decision { return rs.decide(env, nil) }

// Step is what one rule made of a message, for explanations.
type Step struct {
	Rule  string `json:"rule"`
	Match string `json:"match"`
	// Outcome is StepMatched, StepNoMatch, StepHeld or StepFailed.
	Outcome StepOutcome `json:"outcome"`
	// Error is the run-time failure of a StepFailed rule.
	Error string `json:"error,omitempty"`
}

// StepOutcome is how one rule answered.
type StepOutcome string

// The outcomes of a rule.
const (
	StepMatched StepOutcome = "matched"
	StepNoMatch StepOutcome = "no match"
	// StepHeld is a rule naming an account passed over because an account
	// holds the number.
	StepHeld   StepOutcome = "passed over: it names an account and the number is held"
	StepFailed StepOutcome = "failed"
)

// Explanation is a decision with the facts it was made on and what each
// rule tried made of them (rules after the one that matched are not
// tried).
type Explanation struct {
	Env      Env      `json:"facts"`
	Steps    []Step   `json:"rules"`
	Decision Decision `json:"decision"`
}

// Explain is Decide with its reasons.
func (rs *Rules) Explain(env Env) Explanation {
	ex := Explanation{Env: env}
	ex.Decision = rs.decide(env, func(s Step) { ex.Steps = append(ex.Steps, s) })
	return ex
}

func (rs *Rules) decide(env Env, step func(Step)) Decision {
	if rs == nil {
		return Decision{}
	}
	for _, r := range rs.rules {
		s := Step{Rule: r.cfg.Name, Match: r.cfg.Match.Source, Outcome: StepNoMatch}
		if env.Held && r.cfg.Account != "" {
			s.Outcome = StepHeld
			if step != nil {
				step(s)
			}
			continue
		}
		out, err := expr.Run(r.prog, env)
		matched, _ := out.(bool)
		switch {
		case err != nil:
			err = routing.RunError(r.cfg.Match, err)
			s.Outcome, s.Error = StepFailed, err.Error()
			if rs.log != nil {
				rs.log.Warn("inbound rule failed; trying the next", "rule", r.cfg.Name, "error", err)
			}
		case matched:
			s.Outcome = StepMatched
		}
		if step != nil {
			step(s)
		}
		if s.Outcome == StepMatched {
			return Decision{Rule: r.cfg.Name, Account: r.cfg.Account, ExtractOTP: r.cfg.ExtractOTP, Webhook: r.cfg.Webhook}
		}
	}
	return Decision{}
}

// Text is the explanation for a person reading a terminal.
func (e Explanation) Text() string {
	var b strings.Builder
	v := e.Env
	fmt.Fprintf(&b, "facts: to=%q from=%q keyword=%q provider=%q country=%q operator=%q inventory=%t held=%t\n",
		v.To, v.From, v.Keyword, v.Provider, v.Country, v.Operator, v.Inventory, v.Held)
	if len(e.Steps) == 0 {
		b.WriteString("rules: none\n")
	}
	for _, s := range e.Steps {
		fmt.Fprintf(&b, "rule %q (%s): %s", s.Rule, s.Match, s.Outcome)
		if s.Error != "" {
			b.WriteString(": " + s.Error)
		}
		b.WriteString("\n")
	}
	b.WriteString(e.Decision.owner(v) + "\n")
	return b.String()
}

// owner says in words who gets the message and what is done with it.
func (d Decision) owner(v Env) string {
	var who string
	switch {
	case v.Held:
		who = "owner: the number's holder"
	case d.Account != "":
		who = fmt.Sprintf("owner: account %q (rule %q)", d.Account, d.Rule)
	case v.Inventory:
		who = "owner: nobody; kept for admins"
	default:
		who = "owner: the account whose account_sender_ids list the number, else the first account"
	}
	var codes string
	switch {
	case d.ExtractOTP == OTPExtract:
		codes = "yes (the rule says so)"
	case d.ExtractOTP == OTPSkip:
		codes = "no (the rule says so)"
	case v.Inventory:
		codes = "yes (a number of the inventory)"
	default:
		codes = "no (not a number of the inventory)"
	}
	hook := "the owner's webhook URL"
	if !v.Held && d.Account == "" && v.Inventory {
		hook = "none (nobody owns it)"
	}
	if d.Webhook != "" {
		hook = d.Webhook + fmt.Sprintf(" (rule %q)", d.Rule)
	}
	return fmt.Sprintf("%s\nlook for a code: %s\nwebhook: %s", who, codes, hook)
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}
