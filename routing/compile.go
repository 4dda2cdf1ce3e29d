package routing

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// Table is a compiled, immutable set of routes. It is safe for concurrent
// use; a reload builds a new Table and swaps it in whole (see Router).
type Table struct {
	routes []*route
	// byCountry lists, for each country some route's match pins down, the
	// routes worth evaluating for it; other countries use anyCountry. With
	// most routes written per country this keeps a decision to a handful of
	// rule evaluations however long the table grows.
	byCountry  map[string][]int
	anyCountry []int

	providers []*provider
	byName    map[string]int

	loc        *time.Location
	currency   string
	conversion map[string]float64
	prefixes   map[string]string
	prefixMin  int
	prefixMax  int
	// recipientZone is Settings.RecipientZone, for holds in the
	// recipient's zone.
	recipientZone func(to string) *time.Location
}

type route struct {
	name     string
	def      bool
	match    *rule
	filter   *rule
	strategy string
	cands    []int // indices into Table.providers
	weights  []int // parallel to cands, weighted strategy only
	// failoverOn, when hasFailoverOn, replaces the candidates' own lists.
	failoverOn    []string
	hasFailoverOn bool
	countries     map[string]bool
	rr            atomic.Uint64
	// hold, when set, defers messages to a time of day.
	hold *hold
}

type rule struct {
	kind string // "match" or "filter"
	src  string
	prog *vm.Program
	vars []string // variables the rule reads, for explanations
	at   Rule     // where it is written, for run-time errors
}

// runError turns a run-time error into one line naming where in the
// configuration the failing operation is written.
func (r *rule) runError(err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return err
	}
	msg := fe.Message
	if fe.Prev != nil {
		msg += ": " + fe.Prev.Error()
	}
	p := r.at.pos(fe.From)
	return fmt.Errorf("%s at %s:%d:%d", msg, p.Filename, p.Start.Line, p.Start.Column)
}

type provider struct {
	name, kind string
	failoverOn []string
	def        float64
	hasDef     bool
	countries  map[string]float64
	operators  map[OperatorKey]float64
}

// price is the provider's price for one segment, in the routing currency.
func (p *provider) price(country, operator string) (float64, bool) {
	if operator != "" && len(p.operators) > 0 {
		if v, ok := p.operators[OperatorKey{Country: country, Operator: operator}]; ok {
			return v, true
		}
	}
	if v, ok := p.countries[country]; ok {
		return v, true
	}
	return p.def, p.hasDef
}

var (
	// Functions offered to rules besides expr's own (in, matches,
	// startsWith, contains, len, ...). docs/routing.md lists them.
	functions = []expr.Option{
		expr.Function("prefix", func(p ...any) (any, error) {
			s := p[0].(string)
			for _, x := range p[1:] {
				if strings.HasPrefix(s, x.(string)) {
					return true, nil
				}
			}
			return false, nil
		}, new(func(string, ...string) bool)),
		expr.Function("between", func(p ...any) (any, error) {
			h, from, to := p[0].(int), p[1].(int), p[2].(int)
			if from <= to {
				return from <= h && h < to, nil
			}
			return h >= from || h < to, nil // the window wraps past midnight
		}, new(func(int, int, int) bool)),
	}
	matchOptions  = append([]expr.Option{expr.Env(Env{}), expr.AsBool()}, functions...)
	filterOptions = append([]expr.Option{expr.Env(CandidateEnv{}), expr.AsBool()}, functions...)

	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Compile checks the routes against the providers and settings and builds
// the table. On failure the error is a *CompileError listing every problem,
// each at its position: rules that do not compile (unknown variables, type
// errors, pointing inside the expression), unknown or repeated candidates,
// bad strategies and weights, prices in a currency without a conversion
// rate, and a missing, repeated or misplaced default route.
func Compile(spec Spec) (*Table, error) {
	var diags hcl.Diagnostics
	t := &Table{
		byName:     make(map[string]int, len(spec.Providers)),
		loc:        spec.Settings.Location,
		currency:   spec.Settings.Currency,
		conversion: spec.Settings.Conversion,

		recipientZone: spec.Settings.RecipientZone,
	}
	if t.loc == nil {
		t.loc = time.UTC
	}
	if t.currency == "" {
		t.currency = DefaultCurrency
	}
	diags = append(diags, t.settings(spec.Settings)...)
	names := make([]string, 0, len(spec.Providers))
	for _, pc := range spec.Providers {
		p, pd := t.provider(pc)
		diags = append(diags, pd...)
		t.byName[pc.Name] = len(t.providers)
		t.providers = append(t.providers, p)
		names = append(names, pc.Name)
	}

	seen := make(map[string]hcl.Range, len(spec.Routes))
	var defaults []int
	for i, rc := range spec.Routes {
		if prev, dup := seen[rc.Name]; dup {
			diags = append(diags, errorAt(rc.Range, "Duplicate route",
				fmt.Sprintf("route %q is already defined on line %d; route names must be unique", rc.Name, prev.Start.Line)))
		}
		seen[rc.Name] = rc.Range
		if rc.Default {
			defaults = append(defaults, i)
		}
		r, rd := t.route(rc, names)
		diags = append(diags, rd...)
		t.routes = append(t.routes, r)
	}

	switch {
	case len(defaults) == 0:
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No default route",
			Detail: `exactly one route must have default = true and come last, so every message has somewhere to go`}
		if len(spec.Routes) > 0 {
			rng := spec.Routes[len(spec.Routes)-1].Range
			d.Subject = &rng
		}
		diags = append(diags, d)
	default:
		for _, i := range defaults[1:] {
			diags = append(diags, errorAt(spec.Routes[i].DefaultRange, "More than one default route",
				fmt.Sprintf("route %q is a default route but %q already is; exactly one route may have default = true", spec.Routes[i].Name, spec.Routes[defaults[0]].Name)))
		}
		if last := defaults[len(defaults)-1]; last != len(spec.Routes)-1 {
			diags = append(diags, errorAt(spec.Routes[last].DefaultRange, "Default route is not last",
				fmt.Sprintf("route %q is the default, so it must be the last route block; routes are tried in order and nothing after the default would ever match", spec.Routes[last].Name)))
		}
	}
	if diags.HasErrors() {
		return nil, &CompileError{Diagnostics: diags}
	}
	t.index()
	return t, nil
}

func (t *Table) settings(s Settings) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if !currencyPattern.MatchString(t.currency) {
		diags = append(diags, errorAt(s.CurrencyRange, "Invalid currency",
			fmt.Sprintf("currency %q is not an ISO 4217 code such as \"USD\" or \"EUR\"", t.currency)))
	}
	codes := make([]string, 0, len(s.Conversion))
	for c := range s.Conversion {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		rate := s.Conversion[c]
		switch {
		case !currencyPattern.MatchString(c):
			diags = append(diags, errorAt(s.ConversionRange, "Invalid currency",
				fmt.Sprintf("conversion names %q, which is not an ISO 4217 code such as \"EUR\"", c)))
		case !(rate > 0) || math.IsInf(rate, 0):
			diags = append(diags, errorAt(s.ConversionRange, "Invalid conversion rate",
				fmt.Sprintf("1 %s must be worth a positive amount of %s, not %v", c, t.currency, rate)))
		}
	}
	t.prefixes = s.OperatorPrefixes
	for p := range s.OperatorPrefixes {
		if t.prefixMin == 0 || len(p) < t.prefixMin {
			t.prefixMin = len(p)
		}
		t.prefixMax = max(t.prefixMax, len(p))
	}
	return diags
}

// rate converts one unit of currency into the routing currency.
func (t *Table) rate(currency string) (float64, bool) {
	if currency == "" || currency == t.currency {
		return 1, true
	}
	r, ok := t.conversion[currency]
	return r, ok
}

func (t *Table) provider(pc ProviderConfig) (*provider, hcl.Diagnostics) {
	p := &provider{name: pc.Name, kind: pc.Kind, failoverOn: pc.FailoverOn}
	pr := pc.Pricing
	rate, ok := t.rate(pr.Currency)
	if !ok {
		return p, hcl.Diagnostics{errorAt(pr.CurrencyRange, "No conversion rate",
			fmt.Sprintf("provider %q prices in %s but routing compares costs in %s; add %s to the routing block's conversion: conversion = { %s = N }, where N is what 1 %s is worth in %s",
				pc.Name, pr.Currency, t.currency, pr.Currency, pr.Currency, pr.Currency, t.currency))}
	}
	p.def, p.hasDef = pr.Default*rate, pr.HasDefault
	if len(pr.Countries) > 0 {
		p.countries = make(map[string]float64, len(pr.Countries))
		for c, v := range pr.Countries {
			p.countries[c] = v * rate
		}
	}
	if len(pr.Operators) > 0 {
		p.operators = make(map[OperatorKey]float64, len(pr.Operators))
		for k, v := range pr.Operators {
			p.operators[k] = v * rate
		}
	}
	return p, nil
}

func (t *Table) route(rc RouteConfig, providers []string) (*route, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	r := &route{name: rc.Name, def: rc.Default, strategy: rc.Strategy, failoverOn: rc.FailoverOn, hasFailoverOn: rc.HasFailoverOn}
	switch {
	case rc.Default && rc.Match.Source != "":
		diags = append(diags, errorAt(rc.Match.Range, "Match on the default route",
			fmt.Sprintf("route %q is the default and takes every message no other route took; remove match, or remove default = true and add a default route after it", rc.Name)))
	case !rc.Default && rc.Match.Source == "":
		diags = append(diags, errorAt(rc.Range, "Missing match",
			fmt.Sprintf("route %q needs a match rule such as match = \"country == 'MM'\" (or default = true if it is the last route and takes everything)", rc.Name)))
	case !rc.Default:
		var d *hcl.Diagnostic
		r.match, d = compileRule("match", rc.Name, rc.Match, matchOptions)
		if d != nil {
			diags = append(diags, d)
		}
	}
	if rc.Filter.Source != "" {
		var d *hcl.Diagnostic
		r.filter, d = compileRule("filter", rc.Name, rc.Filter, filterOptions)
		if d != nil {
			diags = append(diags, d)
		}
	}
	if r.match != nil {
		if tree, err := parser.Parse(rc.Match.Source); err == nil {
			r.countries = countryConstraint(tree.Node)
		}
	}

	h, hd := compileHold(rc.Name, rc.Hold, t.loc)
	r.hold = h
	diags = append(diags, hd...)
	diags = append(diags, checkCandidates(rc, t.byName, providers)...)
	for _, c := range rc.Candidates {
		if i, ok := t.byName[c]; ok {
			r.cands = append(r.cands, i)
		}
	}

	switch rc.Strategy {
	case "":
		r.strategy = StrategyFailover
	case StrategyFailover, StrategyLeastCost, StrategyRoundRobin:
	case StrategyWeighted:
		r.weights = make([]int, len(rc.Candidates))
		for i, c := range rc.Candidates {
			w, ok := rc.Weights[c]
			if !ok || w <= 0 {
				diags = append(diags, errorAt(rc.WeightsRange, "Missing weight",
					fmt.Sprintf("route %q uses the weighted strategy, so every candidate needs a positive weight; give %q one, e.g. weights = { %q = 50 }", rc.Name, c, c)))
			}
			r.weights[i] = w
		}
	default:
		diags = append(diags, errorAt(rc.StrategyRange, "Unknown strategy",
			fmt.Sprintf("route %q has strategy %q; use %s, %s, %s or %s", rc.Name, rc.Strategy,
				StrategyFailover, StrategyLeastCost, StrategyWeighted, StrategyRoundRobin)))
	}
	if len(rc.Weights) > 0 && rc.Strategy != StrategyWeighted {
		diags = append(diags, errorAt(rc.WeightsRange, "Weights without the weighted strategy",
			fmt.Sprintf("route %q sets weights but its strategy is %q; add strategy = %q or remove weights", rc.Name, r.strategy, StrategyWeighted)))
	}
	listed := make(map[string]bool, len(rc.Candidates))
	for _, c := range rc.Candidates {
		listed[c] = true
	}
	for _, name := range sortedKeys(rc.Weights) {
		if !listed[name] {
			diags = append(diags, errorAt(rc.WeightsRange, "Weight for a provider that is not a candidate",
				fmt.Sprintf("route %q gives %q a weight but does not list it in candidates", rc.Name, name)))
		}
	}
	return r, diags
}

func compileRule(kind, routeName string, r Rule, opts []expr.Option) (*rule, *hcl.Diagnostic) {
	prog, err := expr.Compile(r.Source, opts...)
	if err != nil {
		rng := r.Range
		msg := err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			rng = r.pos(fe.From)
			msg = fe.Message
		}
		return nil, errorAt(rng, "Invalid "+kind+" rule", fmt.Sprintf("route %q: %s", routeName, hint(kind, msg)))
	}
	return &rule{kind: kind, src: r.Source, prog: prog, vars: ruleVars(prog.Node(), kind == "filter"), at: r}, nil
}

// ruleVars lists the environment variables a rule reads, once each, in the
// order explanations show them.
func ruleVars(node ast.Node, candidate bool) []string {
	v := &varCollector{seen: map[string]bool{}}
	ast.Walk(&node, v)
	var out []string
	order := envVars
	if candidate {
		order = append(append([]string(nil), candidateVars...), envVars...)
	}
	for _, name := range order {
		if v.seen[name] {
			out = append(out, name)
		}
	}
	return out
}

var candidateVars = []string{"provider", "provider_kind", "price", "cost", "has_price", "currency", "balance",
	"has_balance", "healthy", "success_rate", "latency", "provider_operators", "provider_countries"}

type varCollector struct{ seen map[string]bool }

func (v *varCollector) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		v.seen[id.Value] = true
	}
}

// countryConstraint returns the countries a match rule can only be true
// for, read from its top-level structure (country == "X", country in [...],
// combined with && and ||), or nil when the rule does not pin the country.
func countryConstraint(n ast.Node) map[string]bool {
	switch n := n.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			l, r := countryConstraint(n.Left), countryConstraint(n.Right)
			switch {
			case l == nil:
				return r
			case r == nil:
				return l
			}
			both := map[string]bool{}
			for c := range l {
				if r[c] {
					both[c] = true
				}
			}
			return both
		case "||", "or":
			l, r := countryConstraint(n.Left), countryConstraint(n.Right)
			if l == nil || r == nil {
				return nil
			}
			for c := range r {
				l[c] = true
			}
			return l
		case "==":
			if isCountry(n.Left) {
				if s, ok := n.Right.(*ast.StringNode); ok {
					return map[string]bool{s.Value: true}
				}
			}
			if isCountry(n.Right) {
				if s, ok := n.Left.(*ast.StringNode); ok {
					return map[string]bool{s.Value: true}
				}
			}
		case "in":
			arr, ok := n.Right.(*ast.ArrayNode)
			if !ok || !isCountry(n.Left) {
				return nil
			}
			set := map[string]bool{}
			for _, e := range arr.Nodes {
				s, ok := e.(*ast.StringNode)
				if !ok {
					return nil
				}
				set[s.Value] = true
			}
			return set
		}
	}
	return nil
}

func isCountry(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "country"
}

// index builds byCountry and anyCountry from the routes' country constraints.
func (t *Table) index() {
	t.byCountry = map[string][]int{}
	for _, r := range t.routes {
		for c := range r.countries {
			t.byCountry[c] = nil
		}
	}
	for i, r := range t.routes {
		if r.countries == nil {
			t.anyCountry = append(t.anyCountry, i)
			for c := range t.byCountry {
				t.byCountry[c] = append(t.byCountry[c], i)
			}
			continue
		}
		for c := range r.countries {
			t.byCountry[c] = append(t.byCountry[c], i)
		}
	}
}

func checkCandidates(rc RouteConfig, known map[string]int, providers []string) hcl.Diagnostics {
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
		if _, ok := known[c]; !ok {
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

// Providers returns the provider names the table was compiled against, in
// configuration order.
func (t *Table) Providers() []string {
	if t == nil {
		return nil
	}
	names := make([]string, len(t.providers))
	for i, p := range t.providers {
		names[i] = p.name
	}
	return names
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

// Currency is the currency costs and balances are compared in.
func (t *Table) Currency() string { return t.currency }

// Location is the time zone of the hour and weekday facts.
func (t *Table) Location() *time.Location { return t.loc }

// failoverOn is the refusal codes that send a message on from provider p
// when route r offers it: the route's list when it sets one, else p's.
func (r *route) failoverOnFor(p *provider) []string {
	if r.hasFailoverOn {
		return r.failoverOn
	}
	return p.failoverOn
}
