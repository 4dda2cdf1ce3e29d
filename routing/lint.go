package routing

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/hashicorp/hcl/v2"
)

// Knowledge is what Lint checks names against; the caller (config) knows
// the numbering plans and the message kinds the API accepts.
type Knowledge struct {
	// Region reports whether an upper-case ISO 3166 code has a numbering plan.
	Region func(code string) bool
	// Operators lists the operator names the numbering plan of a region
	// knows (nil: no carrier data for it).
	Operators func(region string) []string
	// AllOperators are the names every numbering plan knows together,
	// for rules that do not pin the country.
	AllOperators []string
	// Kinds are the message kinds the API accepts.
	Kinds []string
}

// Lint returns warnings about a table that compiles but is probably not
// what the operator meant: country codes in lower case or unknown, kinds
// the API never sends, operator names no numbering plan knows (in rules and
// in inline prices), candidates of a cost-ordered route that have no price,
// and routes an earlier route always takes the messages of.
func Lint(spec Spec, k Knowledge) hcl.Diagnostics {
	var diags hcl.Diagnostics
	prefixNames := map[string]bool{}
	for _, op := range spec.Settings.OperatorPrefixes {
		prefixNames[op] = true
	}
	priced := map[string]bool{}
	for _, p := range spec.Providers {
		pr := p.Pricing
		priced[p.Name] = pr.HasDefault || len(pr.Countries) > 0 || len(pr.Operators) > 0
	}
	for i, rc := range spec.Routes {
		for _, r := range []Rule{rc.Match, rc.Filter} {
			diags = append(diags, lintRule(rc.Name, r, k, prefixNames)...)
		}
		diags = append(diags, lintPrices(rc, priced)...)
		if d := untimedHold(rc); d != nil {
			diags = append(diags, d)
		}
		if d := shadowed(spec.Routes[:i], rc); d != nil {
			diags = append(diags, d)
		}
	}
	return diags
}

// untimedHold warns about hold_until on a route whose match reads no time
// fact: it holds every message it takes, at noon too, until the next such
// time, which is rarely what was meant.
func untimedHold(rc RouteConfig) *hcl.Diagnostic {
	if rc.Hold == nil || rc.Hold.Until == "" || rc.Hold.Both {
		return nil
	}
	if tree, err := parser.Parse(rc.Match.Source); err == nil && rc.Match.Source != "" {
		timed := false
		ast.Find(tree.Node, func(n ast.Node) bool {
			id, ok := n.(*ast.IdentifierNode)
			timed = timed || ok && slices.Contains([]string{"hour", "minute", "local_time", "weekday"}, id.Value)
			return false
		})
		if timed {
			return nil
		}
	}
	return warnAt(rc.Hold.UntilRange, "Hold at every hour",
		fmt.Sprintf("route %q holds every message it takes until %s, even one sent at noon, since its match reads no time (hour, minute, local_time, weekday); say when in match, e.g. \"... && (hour >= 21 || hour < 6)\", or use quiet_hours { from = \"21:00\" to = %q }", rc.Name, rc.Hold.Until, rc.Hold.Until))
}

func warnAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}

// lintRule checks the string literals a rule compares country, kind and
// operator with.
func lintRule(route string, r Rule, k Knowledge, prefixNames map[string]bool) hcl.Diagnostics {
	if r.Source == "" {
		return nil
	}
	tree, err := parser.Parse(r.Source)
	if err != nil {
		return nil // Compile reports it
	}
	countries := countryConstraint(tree.Node)
	var diags hcl.Diagnostics
	ast.Find(tree.Node, func(n ast.Node) bool {
		b, ok := n.(*ast.BinaryNode)
		if !ok || (b.Operator != "==" && b.Operator != "!=" && b.Operator != "in") {
			return false
		}
		name, lits := comparison(b)
		for _, lit := range lits {
			at := r.pos(lit.Location().From)
			switch name {
			case "country":
				diags = append(diags, lintCountry(route, lit.Value, at, k)...)
			case "kind":
				if k.Kinds != nil && !slices.Contains(k.Kinds, lit.Value) {
					diags = append(diags, warnAt(at, "Unknown kind",
						fmt.Sprintf("route %q compares kind with '%s', which the API never sends (kinds: %s)%s", route, lit.Value, strings.Join(k.Kinds, ", "), didYouMean(lit.Value, k.Kinds))))
				}
			case "operator":
				if d := lintOperator(route, lit.Value, at, countries, k, prefixNames); d != nil {
					diags = append(diags, d)
				}
			}
		}
		return false
	})
	return diags
}

// comparison returns the variable a comparison reads and the string
// literals it compares it with (a list for in).
func comparison(b *ast.BinaryNode) (string, []*ast.StringNode) {
	id, ok := b.Left.(*ast.IdentifierNode)
	other := b.Right
	if !ok {
		if id, ok = b.Right.(*ast.IdentifierNode); !ok || b.Operator == "in" {
			return "", nil
		}
		other = b.Left
	}
	var lits []*ast.StringNode
	switch o := other.(type) {
	case *ast.StringNode:
		lits = append(lits, o)
	case *ast.ArrayNode:
		for _, e := range o.Nodes {
			if s, ok := e.(*ast.StringNode); ok {
				lits = append(lits, s)
			}
		}
	}
	return id.Value, lits
}

func lintCountry(route, code string, at hcl.Range, k Knowledge) hcl.Diagnostics {
	upper := strings.ToUpper(code)
	switch {
	case code != upper:
		return hcl.Diagnostics{warnAt(at, "Lower-case country code",
			fmt.Sprintf("route %q compares country with '%s', but country codes are upper case: write '%s'", route, code, upper))}
	case k.Region != nil && !k.Region(code):
		return hcl.Diagnostics{warnAt(at, "Unknown country code",
			fmt.Sprintf("route %q compares country with '%s', which is no ISO 3166 alpha-2 code with a numbering plan (e.g. 'MM', 'DE')", route, code))}
	}
	return nil
}

func lintOperator(route, op string, at hcl.Range, countries map[string]bool, k Knowledge, prefixNames map[string]bool) *hcl.Diagnostic {
	if k.Operators == nil || prefixNames[op] {
		return nil
	}
	known := k.AllOperators
	if countries != nil {
		known = nil
		for c := range countries {
			known = append(known, k.Operators(c)...)
		}
	}
	if len(known) == 0 || slices.Contains(known, op) {
		return nil // no carrier data to check against, or a known name
	}
	where := "any numbering plan"
	if countries != nil {
		where = "the numbering plan of " + strings.Join(sortedKeys(countries), ", ")
	}
	return warnAt(at, "Unknown operator",
		fmt.Sprintf("route %q compares operator with '%s', which %s does not name (names are libphonenumber's, as written: %s), nor operator_prefixes%s",
			route, op, where, abbreviate(known, countries == nil), didYouMean(op, known)))
}

// OperatorHint says what an operator name unknown to known might be meant
// as: "" when op is known or nothing is near.
func OperatorHint(op string, known []string) string {
	if slices.Contains(known, op) {
		return ""
	}
	return didYouMean(op, known)
}

func abbreviate(names []string, many bool) string {
	if many {
		return "see `route explain` for a number's operator"
	}
	if len(names) > 8 {
		return strings.Join(names[:8], ", ") + ", …"
	}
	return strings.Join(names, ", ")
}

// didYouMean suggests the known name nearest op, case aside.
func didYouMean(op string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, op) {
			return "; did you mean '" + k + "'? (case matters)"
		}
	}
	if best := closest(op, lower(known)); best != "" {
		for _, k := range known {
			if strings.ToLower(k) == best {
				return "; did you mean '" + k + "'?"
			}
		}
	}
	return ""
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToLower(x)
	}
	return out
}

// lintPrices warns about candidates a cost-ordered or cost-filtered route
// cannot price: least_cost puts them last, and cost reads 0 for them.
func lintPrices(rc RouteConfig, priced map[string]bool) hcl.Diagnostics {
	usesCost := rc.Strategy == StrategyLeastCost || strings.Contains(rc.Filter.Source, "cost") || strings.Contains(rc.Filter.Source, "price")
	if !usesCost {
		return nil
	}
	var diags hcl.Diagnostics
	for i, c := range rc.Candidates {
		if p, known := priced[c]; known && !p {
			at := rc.CandidatesRange
			if i < len(rc.CandidateRanges) {
				at = rc.CandidateRanges[i]
			}
			diags = append(diags, warnAt(at, "Provider without prices",
				fmt.Sprintf("route %q orders or filters by cost, but provider %q has no pricing block entries, so its cost reads 0 and least_cost puts it last; give it a pricing block", rc.Name, c)))
		}
	}
	return diags
}

// shadowed reports a route that never takes a message because an earlier
// route without a filter matches everything it matches: the earlier
// route's conditions (joined by &&) are a subset of this one's.
func shadowed(earlier []RouteConfig, rc RouteConfig) *hcl.Diagnostic {
	if rc.Default || rc.Match.Source == "" {
		return nil
	}
	mine := conjuncts(rc.Match.Source)
	if mine == nil {
		return nil
	}
	for _, e := range earlier {
		if e.Filter.Source != "" || e.Match.Source == "" {
			continue
		}
		theirs := conjuncts(e.Match.Source)
		if theirs == nil {
			continue
		}
		covered := true
		for c := range theirs {
			if !mine[c] {
				covered = false
				break
			}
		}
		if covered {
			return warnAt(rc.Range, "Unreachable route",
				fmt.Sprintf("route %q never takes a message: route %q (line %d) comes first, has no filter and matches every message this one matches; move this route above it or narrow that one",
					rc.Name, e.Name, e.Range.Start.Line))
		}
	}
	return nil
}

// conjuncts splits a rule at its top-level && into the set of its parts,
// each normalised by expr's printer; nil when it does not parse.
func conjuncts(src string) map[string]bool {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
			walk(b.Left)
			walk(b.Right)
			return
		}
		out[n.String()] = true
	}
	walk(tree.Node)
	return out
}
