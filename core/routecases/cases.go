package routecases

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/routing"
)

// Case is one message with the circumstances it is routed in and the
// decision it must get.
type Case struct {
	Name string
	// Range is the case block's header, for reports.
	Range   hcl.Range
	Account string
	Request core.SendRequest
	// ID is the message id the weighted strategy draws from; the case
	// name when the file gives none, so a case always draws the same.
	ID string
	// At is the moment the case is decided at, when given as a full time.
	At time.Time
	// Local is a local time ("23:10", "sat 23:10") in the routing time
	// zone, when given so; it is placed in a fixed week, so cases do not
	// depend on today's date.
	Local string
	// Providers is the state assumed instead of "healthy, balance unknown".
	Providers map[string]routing.ProviderPatch

	// Want is the expected decision: a route and, when given, the plan
	// in order; or no route at all.
	WantRoute   string
	WantPlan    []string
	WantNoRoute bool
	// WantHeldUntil, when set, is the hold expected: "06:00" (the
	// route holds the message until then, in the hold's time zone) or
	// "none" (it does not hold it).
	WantHeldUntil string
}

// block is a case block as written.
type block struct {
	To          string             `hcl:"to"`
	Text        string             `hcl:"text,optional"`
	Kind        string             `hcl:"kind,optional"`
	Sender      string             `hcl:"sender,optional"`
	Account     string             `hcl:"account,optional"`
	Tags        map[string]string  `hcl:"tags,optional"`
	At          string             `hcl:"at,optional"`
	ID          string             `hcl:"id,optional"`
	Balance     map[string]float64 `hcl:"balance,optional"`
	Unhealthy   []string           `hcl:"unhealthy,optional"`
	SuccessRate map[string]float64 `hcl:"success_rate,optional"`
	// Operators and Countries are the networks a provider can send on
	// (provider_operators, provider_countries): a phone gateway's SIMs.
	Operators map[string][]string `hcl:"operators,optional"`
	Countries map[string][]string `hcl:"countries,optional"`
	Route     string              `hcl:"route,optional"`
	Plan      []string            `hcl:"plan,optional"`
	NoRoute   bool                `hcl:"no_route,optional"`
	HeldUntil string              `hcl:"held_until,optional"`
}

var fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "case", LabelNames: []string{"name"}}}}

// heldPattern is what held_until expects: a time of day or "none".
var heldPattern = regexp.MustCompile(`^(none|([01][0-9]|2[0-3]):[0-5][0-9])$`)

// localPattern is a local time with an optional weekday: "23:10", "sat 06:00".
var localPattern = regexp.MustCompile(`^((mon|tue|wed|thu|fri|sat|sun) )?([01][0-9]|2[0-3]):[0-5][0-9]$`)

// Load reads the cases file at path.
func Load(path string) ([]Case, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read routing cases: %w", err)
	}
	return Parse(src, path)
}

// Parse reads cases from src, read from filename. On failure the error is
// a *config.Error listing every problem with its file:line:column.
func Parse(src []byte, filename string) ([]Case, error) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, &config.Error{Diagnostics: diags}
	}
	content, diags := f.Body.Content(fileSchema)
	seen := map[string]hcl.Range{}
	var cases []Case
	for _, b := range content.Blocks {
		c, cd := decode(b)
		diags = append(diags, cd...)
		if prev, dup := seen[c.Name]; dup {
			diags = append(diags, problem(b.DefRange, "Duplicate case", fmt.Sprintf("case %q is already defined on line %d", c.Name, prev.Start.Line)))
		}
		seen[c.Name] = b.DefRange
		cases = append(cases, c)
	}
	if len(content.Blocks) == 0 && !diags.HasErrors() {
		diags = append(diags, problem(hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}, "No cases",
			`write at least one case "name" { to = "+959791234567" ... route = "mm-otp" } block`))
	}
	if diags.HasErrors() {
		return nil, &config.Error{Diagnostics: diags}
	}
	return cases, nil
}

func decode(b *hcl.Block) (Case, hcl.Diagnostics) {
	c := Case{Name: b.Labels[0], Range: b.DefRange}
	var raw block
	diags := gohcl.DecodeBody(b.Body, nil, &raw)
	if diags.HasErrors() {
		return c, diags
	}
	c.Account, c.ID = raw.Account, raw.ID
	if c.ID == "" {
		c.ID = "case " + c.Name
	}
	if raw.Text == "" {
		raw.Text = "Routing case " + c.Name
	}
	c.Request = core.SendRequest{To: raw.To, Message: raw.Text, From: raw.Sender, Kind: message.Kind(raw.Kind), Tags: raw.Tags}
	if raw.Kind != "" && !message.Kind(raw.Kind).Valid() {
		diags = append(diags, problem(b.DefRange, "Unknown kind", fmt.Sprintf("case %q: kind %q is not one the API accepts: %s", c.Name, raw.Kind, kinds())))
	}
	switch {
	case raw.At == "":
	case localPattern.MatchString(raw.At):
		c.Local = raw.At
	default:
		t, err := routing.ParseAt(raw.At)
		if err != nil {
			diags = append(diags, problem(b.DefRange, "Invalid time", fmt.Sprintf("case %q: at: %v, or a local time such as \"23:10\" or \"sat 06:00\"", c.Name, err)))
		}
		c.At = t
	}
	c.Providers = patches(raw)
	for name, r := range raw.SuccessRate {
		if r < 0 || r > 1 {
			diags = append(diags, problem(b.DefRange, "Invalid success rate", fmt.Sprintf("case %q: success_rate of %q must be between 0 and 1, not %v", c.Name, name, r)))
		}
	}
	c.WantRoute, c.WantPlan, c.WantNoRoute = raw.Route, raw.Plan, raw.NoRoute
	if (c.WantRoute == "") == !c.WantNoRoute {
		diags = append(diags, problem(b.DefRange, "No expectation", fmt.Sprintf("case %q must say what it expects: route = \"name\" (and optionally plan = [...]), or no_route = true", c.Name)))
	}
	c.WantHeldUntil = raw.HeldUntil
	if c.WantHeldUntil != "" && !heldPattern.MatchString(c.WantHeldUntil) {
		diags = append(diags, problem(b.DefRange, "Invalid hold", fmt.Sprintf("case %q: held_until %q is not a time of day such as \"06:00\", or \"none\" for a message the route sends at once", c.Name, c.WantHeldUntil)))
	}
	if c.WantNoRoute && len(c.WantPlan) > 0 {
		diags = append(diags, problem(b.DefRange, "Plan without a route", fmt.Sprintf("case %q expects no route, so it cannot expect a plan", c.Name)))
	}
	return c, diags
}

func patches(raw block) map[string]routing.ProviderPatch {
	out := map[string]routing.ProviderPatch{}
	set := func(name string, f func(*routing.ProviderPatch)) {
		p := out[name]
		f(&p)
		out[name] = p
	}
	for name, v := range raw.Balance {
		v := v
		set(name, func(p *routing.ProviderPatch) { p.Balance = &v })
	}
	for name, v := range raw.SuccessRate {
		v := v
		set(name, func(p *routing.ProviderPatch) { p.SuccessRate = &v })
	}
	for name, v := range raw.Operators {
		set(name, func(p *routing.ProviderPatch) { p.Operators = append([]string{}, v...) })
	}
	for name, v := range raw.Countries {
		set(name, func(p *routing.ProviderPatch) { p.Countries = append([]string{}, v...) })
	}
	unhealthy := false
	for _, name := range raw.Unhealthy {
		set(name, func(p *routing.ProviderPatch) { p.Healthy = &unhealthy })
	}
	return out
}

func kinds() string {
	var names []string
	for _, k := range message.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}

func problem(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}
