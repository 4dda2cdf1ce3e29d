package routing

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// RouteConfig is one decoded route block.
type RouteConfig struct {
	// Name is the block label, e.g. route "myanmar-otp" { ... }.
	Name string
	// Default marks the route that catches every message no other route
	// matched. Exactly one route is the default and it comes last.
	Default bool
	// Candidates are provider names, in the order they are tried.
	Candidates []string

	// Range is the block's header ("route \"name\""), used to point errors at it.
	Range hcl.Range
	// DefaultRange is the default attribute's range, or Range when absent.
	DefaultRange hcl.Range
	// CandidatesRange is the candidates attribute's range, or Range when absent.
	CandidatesRange hcl.Range
	// CandidateRanges holds each candidate's own range when the decoder knows
	// it (a literal list); otherwise it is nil and CandidatesRange is used.
	CandidateRanges []hcl.Range
}

// Facts is what routing knows about one message. The routing engine is to
// expose these fields to route match expressions under the same names in
// snake_case (to, country, calling_code, ...).
type Facts struct {
	// To is the recipient in E.164, e.g. "+959123456789".
	To string
	// Country is the recipient's ISO 3166-1 alpha-2 region, e.g. "MM"; "" for
	// non-geographic numbers.
	Country string
	// CallingCode is the country calling code without "+", e.g. "95".
	CallingCode string
	// Operator is the recipient's carrier as libphonenumber names it
	// (English), e.g. "Telenor"; "" when unknown.
	Operator string
	// NumberType is the line type: mobile, fixed_line, toll_free, ... or
	// unknown.
	NumberType string
	// Sender is the requested sender ID or number; "" for the provider's
	// default.
	Sender string
	// Text is the message body.
	Text string
	// Encoding is "gsm7" or "ucs2".
	Encoding string
	// Kind is what the application says the message is for: otp,
	// transactional or marketing; "" when not given.
	Kind string
	// Account is the sending API account's identifier.
	Account string
	// Length is the text's length in characters (runes).
	Length int
	// Segments is how many SMS parts the text takes in Encoding.
	Segments int
	// Tags are the application's free-form labels for the message.
	Tags map[string]string
}

// Candidate is one provider a plan offers.
type Candidate struct {
	// Provider is the configured provider's name.
	Provider string
}

// Plan is the ordered list of candidates for one message: the dispatcher
// tries the first and fails over down the list.
type Plan struct {
	// Route is the name of the route that matched.
	Route string
	// Candidates are the providers to try, best first; never empty.
	Candidates []Candidate
}

// NoRouteError is returned by Plan when no route takes the message.
type NoRouteError struct {
	To      string
	Country string
}

func (e *NoRouteError) Error() string {
	country := e.Country
	if country == "" {
		country = "unknown"
	}
	return fmt.Sprintf("no route for %s (country %s)", e.To, country)
}

// CompileError lists every problem Compile found, each with the position in
// the configuration it came from.
type CompileError struct {
	Diagnostics hcl.Diagnostics
}

func (e *CompileError) Error() string {
	lines := make([]string, 0, len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		line := d.Summary
		if d.Detail != "" {
			line += ": " + d.Detail
		}
		if d.Subject != nil {
			line = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// Table is a compiled, immutable set of routes. It is safe for concurrent
// use; a reload builds a new Table and swaps it in whole.
type Table struct {
	routes    []route
	def       *route
	providers []string
}

type route struct {
	name       string
	candidates []Candidate
}

// Compile checks routes against the configured provider names and builds
// the table. On failure the error is a *CompileError listing every problem:
// routes naming unknown providers, empty or repeated candidates, duplicate
// route names, no default route, more than one, a default that is not last,
// and any non-default route, because route matching arrives with the routing
// engine and a rule that is accepted but never applied would mislead.
func Compile(routes []RouteConfig, providers []string) (*Table, error) {
	var diags hcl.Diagnostics
	known := make(map[string]bool, len(providers))
	for _, p := range providers {
		known[p] = true
	}
	seen := make(map[string]hcl.Range, len(routes))
	var defaults []int
	t := &Table{providers: append([]string(nil), providers...)}

	for i, rc := range routes {
		if prev, dup := seen[rc.Name]; dup {
			diags = append(diags, errorAt(rc.Range, "Duplicate route",
				fmt.Sprintf("route %q is already defined on line %d; route names must be unique", rc.Name, prev.Start.Line)))
		}
		seen[rc.Name] = rc.Range
		if rc.Default {
			defaults = append(defaults, i)
		} else {
			diags = append(diags, errorAt(rc.Range, "Route matching is not available yet",
				fmt.Sprintf("route %q is not the default; route matching arrives with the routing engine, so for now configure a single route with default = true", rc.Name)))
		}
		diags = append(diags, checkCandidates(rc, known, providers)...)
		r := route{name: rc.Name, candidates: make([]Candidate, len(rc.Candidates))}
		for j, c := range rc.Candidates {
			r.candidates[j] = Candidate{Provider: c}
		}
		t.routes = append(t.routes, r)
	}

	switch {
	case len(defaults) == 0:
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No default route",
			Detail: `exactly one route must have default = true and come last, so every message has somewhere to go`}
		if len(routes) > 0 {
			rng := routes[len(routes)-1].Range
			d.Subject = &rng
		}
		diags = append(diags, d)
	default:
		for _, i := range defaults[1:] {
			diags = append(diags, errorAt(routes[i].DefaultRange, "More than one default route",
				fmt.Sprintf("route %q is a default route but %q already is; exactly one route may have default = true", routes[i].Name, routes[defaults[0]].Name)))
		}
		if last := defaults[len(defaults)-1]; last != len(routes)-1 {
			diags = append(diags, errorAt(routes[last].DefaultRange, "Default route is not last",
				fmt.Sprintf("route %q is the default, so it must be the last route block; routes are tried in order and nothing after the default would ever match", routes[last].Name)))
		}
		t.def = &t.routes[defaults[0]]
	}

	if diags.HasErrors() {
		return nil, &CompileError{Diagnostics: diags}
	}
	return t, nil
}

func checkCandidates(rc RouteConfig, known map[string]bool, providers []string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(rc.Candidates) == 0 {
		return append(diags, errorAt(rc.CandidatesRange, "No candidates",
			fmt.Sprintf("route %q must list at least one provider in candidates", rc.Name)))
	}
	at := func(i int) hcl.Range {
		if i < len(rc.CandidateRanges) {
			return rc.CandidateRanges[i]
		}
		return rc.CandidatesRange
	}
	seen := make(map[string]bool, len(rc.Candidates))
	for i, c := range rc.Candidates {
		if !known[c] {
			diags = append(diags, errorAt(at(i), "Unknown provider",
				fmt.Sprintf("route %q names provider %q, which is not configured; configured providers: %s", rc.Name, c, list(providers))))
		}
		if seen[c] {
			diags = append(diags, errorAt(at(i), "Repeated candidate",
				fmt.Sprintf("route %q lists provider %q more than once", rc.Name, c)))
		}
		seen[c] = true
	}
	return diags
}

func list(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return strings.Join(sorted, ", ")
}

func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// Plan returns the ordered candidates for a message. With only the default
// route available every message gets the default route's candidates; a nil
// or empty table answers *NoRouteError.
func (t *Table) Plan(ctx context.Context, f Facts) (Plan, error) {
	if err := ctx.Err(); err != nil {
		return Plan{}, fmt.Errorf("plan route for %s: %w", f.To, err)
	}
	if t == nil || t.def == nil {
		return Plan{}, &NoRouteError{To: f.To, Country: f.Country}
	}
	// A copy, so a caller reordering its plan cannot change the table.
	return Plan{Route: t.def.name, Candidates: append([]Candidate(nil), t.def.candidates...)}, nil
}

// Providers returns the provider names the table was compiled against, in
// configuration order.
func (t *Table) Providers() []string {
	if t == nil {
		return nil
	}
	return append([]string(nil), t.providers...)
}

// Routes returns the route names in the order they are tried.
func (t *Table) Routes() []string {
	if t == nil {
		return nil
	}
	names := make([]string, len(t.routes))
	for i, r := range t.routes {
		names[i] = r.name
	}
	return names
}
