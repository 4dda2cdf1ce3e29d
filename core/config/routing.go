package config

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/routing"
)

// Limits are a provider's sending limits. Zero means unlimited.
type Limits struct {
	// TPS caps segments (SMS parts, as SMPP links and aggregators count
	// them) handed to the provider per second, for every server sharing
	// the database together (each takes its part; see dispatch.Membership).
	TPS float64
	// Concurrency caps simultaneous Send calls to the provider, for every
	// server together (each takes its part, at least one call).
	Concurrency int
}

var (
	routingSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "timezone"}, {Name: "currency"}, {Name: "conversion"}, {Name: "operator_prefixes"}, {Name: "cases"},
	}}
	pricingSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "currency"}, {Name: "default"}, {Name: "countries"}, {Name: "operators"}, {Name: "rates"}, {Name: "assignment"},
	}}
	limitsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "tps"}, {Name: "concurrency"},
	}}

	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	prefixPattern  = regexp.MustCompile(`^\+[0-9]{1,15}$`)
)

// providerKind is what rules see as provider_kind.
func providerKind(p Provider) string {
	if p.Plugin != "" {
		return p.Plugin
	}
	return "external"
}

// routing decodes the routing block into s and returns its cases file, or "".
func (d *decoder) routing(b *hcl.Block, s *routing.Settings) (cases string) {
	content, diags := b.Body.Content(routingSchema)
	d.diags = append(d.diags, diags...)
	s.CurrencyRange, s.ConversionRange = b.DefRange, b.DefRange
	if a := content.Attributes["timezone"]; a != nil {
		if v, ok := d.str(a); ok {
			loc, err := time.LoadLocation(v)
			if err != nil || v == "" || strings.EqualFold(v, "local") {
				d.errorf(a.Expr.Range(), "Unknown time zone", "%q is not an IANA time zone name such as \"Asia/Yangon\", \"Europe/Berlin\" or \"UTC\"", v)
			} else {
				s.Location = loc
			}
		}
	}
	if a := content.Attributes["currency"]; a != nil {
		s.CurrencyRange = a.Expr.Range()
		if v, ok := d.str(a); ok {
			s.Currency = v
		}
	}
	if a := content.Attributes["conversion"]; a != nil {
		s.ConversionRange = a.Expr.Range()
		if v, ok := d.value(a.Expr, cty.Map(cty.Number)); ok {
			s.Conversion = map[string]float64{}
			for k, n := range v.AsValueMap() {
				f, _ := n.AsBigFloat().Float64()
				s.Conversion[k] = f
			}
		}
	}
	if a := content.Attributes["operator_prefixes"]; a != nil {
		s.OperatorPrefixes = d.operatorPrefixes(a)
	}
	if a := content.Attributes["cases"]; a != nil {
		if v, ok := d.str(a); ok {
			cases = v
			if !filepath.IsAbs(v) {
				cases = filepath.Join(filepath.Dir(d.filename), v) // as the operator sees it, like rate sheets
			}
			if _, err := os.Stat(d.resolve(v)); err != nil || v == "" {
				d.errorf(a.Expr.Range(), "Cannot read routing cases", "%q: the cases file must exist (relative paths are resolved from the config file's directory)", v)
			}
		}
	}
	return cases
}

// operatorPrefixes reads operator_prefixes: an object of prefix = operator,
// or the path of a CSV file with the columns prefix,operator.
func (d *decoder) operatorPrefixes(a *hcl.Attribute) map[string]string {
	val, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || val.IsNull() {
		return nil
	}
	out := map[string]string{}
	if val.Type() == cty.String {
		d.readCSV(a, val.AsString(), []string{"prefix", "operator"}, func(rec []string, at func(int) hcl.Range) {
			if !prefixPattern.MatchString(rec[0]) {
				d.errorf(at(0), "Invalid operator prefix", "%q is not \"+\" and digits such as \"+95979\"", rec[0])
				return
			}
			out[rec[0]] = rec[1]
		})
		return out
	}
	v, ok := d.value(a.Expr, cty.Map(cty.String))
	if !ok {
		return nil
	}
	for k, op := range v.AsValueMap() {
		if !prefixPattern.MatchString(k) {
			d.errorf(a.Expr.Range(), "Invalid operator prefix", "%q is not \"+\" and digits such as \"+95979\"", k)
			continue
		}
		out[k] = op.AsString()
	}
	return out
}

func (d *decoder) providerBlocks(blocks hcl.Blocks, p *Provider) bool {
	ok := true
	seen := map[string]*hcl.Block{}
	for _, b := range blocks {
		if prev := seen[b.Type]; prev != nil {
			d.errorf(b.DefRange, "Duplicate "+b.Type+" block", "provider %q already has a %s block on line %d; merge the two", p.Name, b.Type, prev.DefRange.Start.Line)
			ok = false
			continue
		}
		seen[b.Type] = b
		if b.Type == "pricing" {
			ok = d.pricing(b, &p.Pricing, &p.AssignmentPrices) && ok
		} else {
			ok = d.limits(b, &p.Limits) && ok
		}
	}
	return ok
}

func (d *decoder) pricing(b *hcl.Block, pr *routing.Pricing, assignment *NumberPrices) bool {
	content, diags := b.Body.Content(pricingSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	attrs := content.Attributes
	if a := attrs["assignment"]; a != nil {
		ok = d.assignmentPrices(a, assignment) && ok
	}
	pr.Range, pr.CurrencyRange = b.DefRange, b.DefRange
	if a := attrs["currency"]; a != nil {
		pr.CurrencyRange = a.Expr.Range()
		v, vok := d.str(a)
		ok = vok && ok
		pr.Currency = v
	}
	if a := attrs["default"]; a != nil {
		f, vok := d.price(a.Expr)
		ok = vok && ok
		pr.Default, pr.HasDefault = f, vok
	}
	// The rates file first, so inline prices can correct single entries.
	if a := attrs["rates"]; a != nil {
		ok = d.ratesFile(a, pr) && ok
	}
	if a := attrs["countries"]; a != nil {
		ok = d.countryPrices(a, pr) && ok
	}
	if a := attrs["operators"]; a != nil {
		ok = d.operatorPrices(a, pr) && ok
	}
	return ok
}

// ratesFile reads a CSV of country,operator,price rows into pr.
func (d *decoder) ratesFile(a *hcl.Attribute, pr *routing.Pricing) bool {
	path, vok := d.str(a)
	if !vok {
		return false
	}
	before := len(d.diags)
	rows := map[routing.OperatorKey]priceRow{}
	d.readCSV(a, path, []string{"country", "operator", "price"}, func(rec []string, at func(int) hcl.Range) {
		if !countryPattern.MatchString(rec[0]) {
			d.errorf(at(0), "Invalid country", "%q is not an ISO 3166 alpha-2 code such as \"MM\"", rec[0])
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			d.errorf(at(2), "Invalid price", "%q is not a price such as 0.045", rec[2])
			return
		}
		op := strings.TrimSpace(rec[1])
		d.checkRow(rows, routing.OperatorKey{Country: rec[0], Operator: op}, priceRow{at: at(0), price: f})
		if op != "" {
			d.pricedOps = append(d.pricedOps, pricedOp{at: at(1), country: rec[0], operator: op})
		}
		setPrice(pr, rec[0], op, f)
	})
	return len(d.diags) == before
}

// countryPrices reads countries = { MM = 0.03 } into pr.
func (d *decoder) countryPrices(a *hcl.Attribute, pr *routing.Pricing) bool {
	v, vok := d.value(a.Expr, cty.Map(cty.Number))
	if !vok {
		return false
	}
	ok := true
	for _, c := range sortedKeys(v.AsValueMap()) {
		f, _ := v.AsValueMap()[c].AsBigFloat().Float64()
		if !countryPattern.MatchString(c) {
			d.errorf(a.Expr.Range(), "Invalid country", "%q is not an ISO 3166 alpha-2 code such as \"MM\" (write countries = { MM = 0.03 })", c)
			ok = false
			continue
		}
		if !validPrice(f) {
			d.errorf(a.Expr.Range(), "Invalid price", "the price for %s must be zero or more, not %v", c, f)
			ok = false
			continue
		}
		setPrice(pr, c, "", f)
	}
	return ok
}

// operatorPrices reads operators = { "MM/Telenor" = 0.04 } into pr.
func (d *decoder) operatorPrices(a *hcl.Attribute, pr *routing.Pricing) bool {
	v, vok := d.value(a.Expr, cty.Map(cty.Number))
	if !vok {
		return false
	}
	ok := true
	for _, k := range sortedKeys(v.AsValueMap()) {
		f, _ := v.AsValueMap()[k].AsBigFloat().Float64()
		country, operator, found := strings.Cut(k, "/")
		if !found || !countryPattern.MatchString(country) || operator == "" {
			d.errorf(a.Expr.Range(), "Invalid operator key", "%q must be COUNTRY/Operator such as \"MM/Telenor\", with the operator named as libphonenumber or your operator_prefixes name it", k)
			ok = false
			continue
		}
		if !validPrice(f) {
			d.errorf(a.Expr.Range(), "Invalid price", "the price for %s must be zero or more, not %v", k, f)
			ok = false
			continue
		}
		d.pricedOps = append(d.pricedOps, pricedOp{at: a.Expr.Range(), country: country, operator: operator})
		setPrice(pr, country, operator, f)
	}
	return ok
}

func setPrice(pr *routing.Pricing, country, operator string, f float64) {
	if operator == "" {
		if pr.Countries == nil {
			pr.Countries = map[string]float64{}
		}
		pr.Countries[country] = f
		return
	}
	if pr.Operators == nil {
		pr.Operators = map[routing.OperatorKey]float64{}
	}
	pr.Operators[routing.OperatorKey{Country: country, Operator: operator}] = f
}

func validPrice(f float64) bool { return f >= 0 && !math.IsInf(f, 0) && !math.IsNaN(f) }

func (d *decoder) price(expr hcl.Expression) (float64, bool) {
	v, ok := d.value(expr, cty.Number)
	if !ok {
		return 0, false
	}
	f, _ := v.AsBigFloat().Float64()
	if !validPrice(f) {
		d.errorf(expr.Range(), "Invalid price", "want a price of zero or more, such as 0.045, not %v", f)
		return 0, false
	}
	return f, true
}

func (d *decoder) limits(b *hcl.Block, l *Limits) bool {
	content, diags := b.Body.Content(limitsSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	if a := content.Attributes["tps"]; a != nil {
		v, vok := d.value(a.Expr, cty.Number)
		f := 0.0
		if vok {
			f, _ = v.AsBigFloat().Float64()
		}
		if vok && !(f > 0 && !math.IsInf(f, 0)) {
			d.errorf(a.Expr.Range(), "Invalid tps", "tps is segments per second and must be more than 0, such as 50 or 0.5; leave it out for no limit")
			vok = false
		}
		ok = vok && ok
		l.TPS = f
	}
	if a := content.Attributes["concurrency"]; a != nil {
		v, vok := d.value(a.Expr, cty.Number)
		n := 0
		if vok {
			i, acc := v.AsBigFloat().Int64()
			if acc != 0 || i < 1 || i > 10000 {
				d.errorf(a.Expr.Range(), "Invalid concurrency", "concurrency is how many sends may run at once: a whole number from 1 to 10000; leave it out for no limit")
				vok = false
			}
			n = int(i)
		}
		ok = vok && ok
		l.Concurrency = n
	}
	return ok
}

func (d *decoder) routeRules(attrs hcl.Attributes, rc *routing.RouteConfig) bool {
	ok := true
	if a := attrs["match"]; a != nil {
		r, rok := d.rule(a)
		ok = rok && ok
		rc.Match = r
	}
	if a := attrs["filter"]; a != nil {
		r, rok := d.rule(a)
		ok = rok && ok
		rc.Filter = r
	}
	if a := attrs["strategy"]; a != nil {
		rc.StrategyRange = a.Expr.Range()
		v, vok := d.str(a)
		ok = vok && ok
		rc.Strategy = v
	}
	if a := attrs["failover_on"]; a != nil {
		codes, fok := d.failoverOn(a)
		ok = fok && ok
		rc.FailoverOn, rc.HasFailoverOn = codes, true
	}
	if a := attrs["weights"]; a != nil {
		rc.WeightsRange = a.Expr.Range()
		v, vok := d.value(a.Expr, cty.Map(cty.Number))
		ok = vok && ok
		if vok {
			rc.Weights = map[string]int{}
			for k, n := range v.AsValueMap() {
				i, acc := n.AsBigFloat().Int64()
				if acc != 0 || i < 1 || i > 1_000_000 {
					d.errorf(a.Expr.Range(), "Invalid weight", "the weight of %q must be a whole number from 1 to 1000000", k)
					ok = false
					continue
				}
				rc.Weights[k] = int(i)
			}
		}
	}
	return ok
}

// routeHold decodes a route's hold action: hold_until = "06:00", or a
// quiet_hours { from to zone } block. routing.Compile checks the times
// and the zone.
func (d *decoder) routeHold(content *hcl.BodyContent, rc *routing.RouteConfig) bool {
	ok := true
	if a := content.Attributes["hold_until"]; a != nil {
		v, vok := d.str(a)
		ok = vok
		rc.Hold = &routing.HoldConfig{Until: v, Range: a.Range, UntilRange: a.Expr.Range()}
	}
	for i, b := range content.Blocks {
		if i > 0 {
			d.errorf(b.DefRange, "Duplicate quiet_hours block", "route %q already has a quiet_hours block on line %d; a route has one window", rc.Name, content.Blocks[0].DefRange.Start.Line)
			ok = false
			continue
		}
		qc, diags := b.Body.Content(quietHoursSchema)
		d.diags = append(d.diags, diags...)
		ok = ok && !diags.HasErrors()
		h := &routing.HoldConfig{Range: b.DefRange, FromRange: b.DefRange, ToRange: b.DefRange, ZoneRange: b.DefRange, Both: rc.Hold != nil}
		for _, f := range []struct {
			name string
			v    *string
			rng  *hcl.Range
		}{{"from", &h.From, &h.FromRange}, {"to", &h.To, &h.ToRange}, {"zone", &h.Zone, &h.ZoneRange}} {
			if a := qc.Attributes[f.name]; a != nil {
				v, vok := d.str(a)
				ok = ok && vok
				*f.v, *f.rng = v, a.Expr.Range()
			}
		}
		rc.Hold = h
	}
	return ok
}

// readCSV reads a CSV file named by attribute a (relative to the config
// file) whose header must be exactly columns, calling row for each record.
// Problems are reported at the file's own line and column.
func (d *decoder) readCSV(a *hcl.Attribute, path string, columns []string, row func(rec []string, at func(int) hcl.Range)) {
	if path == "" {
		d.errorf(a.Expr.Range(), "Empty file name", "give the CSV file's path, relative to this file's directory")
		return
	}
	display := path
	if !filepath.IsAbs(path) {
		display = filepath.Join(filepath.Dir(d.filename), path)
	}
	f, err := os.Open(d.resolve(path))
	if err != nil {
		d.errorf(a.Expr.Range(), "Cannot read CSV file", "%v (relative paths are resolved from the config file's directory)", err)
		return
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = len(columns)
	r.TrimLeadingSpace = true
	fileRange := func(line, col int) hcl.Range {
		p := hcl.Pos{Line: line, Column: col}
		return hcl.Range{Filename: display, Start: p, End: p}
	}
	header := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			if header {
				d.errorf(fileRange(1, 1), "Empty CSV file", "want a header line %q and one line per entry", strings.Join(columns, ","))
			}
			return
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid CSV",
					Detail: fmt.Sprintf("%v; want the columns %s", pe.Err, strings.Join(columns, ",")), Subject: fileRange(pe.Line, max(pe.Column, 1)).Ptr()})
				if errors.Is(pe.Err, csv.ErrFieldCount) {
					continue // the next line reads on its own: report every bad row, not the first
				}
				return
			}
			d.errorf(a.Expr.Range(), "Cannot read CSV file", "%v", err)
			return
		}
		line, _ := r.FieldPos(0)
		at := func(i int) hcl.Range {
			l, c := r.FieldPos(i)
			return fileRange(l, c)
		}
		if header {
			header = false
			for i, c := range columns {
				if strings.TrimSpace(strings.ToLower(rec[i])) != c {
					d.diags = append(d.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid CSV header",
						Detail: fmt.Sprintf("want the header line %q, got column %d %q", strings.Join(columns, ","), i+1, rec[i]), Subject: fileRange(line, 1).Ptr()})
					return
				}
			}
			continue
		}
		row(rec, at)
	}
}

func sortedKeys(m map[string]cty.Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// failoverOn decodes a failover_on list: refusal codes as plugins give them
// (message.Refusals, the protocol's words), each error pointing at the code's own position.
func (d *decoder) failoverOn(a *hcl.Attribute) ([]string, bool) {
	v, ok := d.value(a.Expr, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	var ranges []hcl.Range
	if tuple, isTuple := a.Expr.(*hclsyntax.TupleConsExpr); isTuple {
		for _, e := range tuple.Exprs {
			ranges = append(ranges, e.Range())
		}
	}
	known := make([]string, 0, len(message.Refusals()))
	for _, r := range message.Refusals() {
		if r != message.RefusalDuplicate {
			known = append(known, string(r))
		}
	}
	codes := []string{}
	for i, e := range v.AsValueSlice() {
		at := a.Expr.Range()
		if i < len(ranges) {
			at = ranges[i]
		}
		code := ""
		if !e.IsNull() {
			code = e.AsString()
		}
		switch {
		case code == string(message.RefusalDuplicate):
			d.errorf(at, "Duplicate cannot fail over",
				"%s means the provider has or may have the message already; another provider would send it a second time. failover_on takes: %s",
				code, strings.Join(known, ", "))
			ok = false
		case !slices.Contains(known, code):
			d.errorf(at, "Unknown outcome code",
				"%q is not a refusal code plugins give; failover_on takes: %s (codes are upper case; see docs/routing.md, Failover on refusals)",
				code, strings.Join(known, ", "))
			ok = false
		case !slices.Contains(codes, code):
			codes = append(codes, code)
		}
	}
	return codes, ok
}

// lintKnowledge is what routing.Lint checks names against: libphonenumber's
// regions and operator names, and the kinds the API accepts.
func lintKnowledge() routing.Knowledge {
	var kinds []string
	for _, k := range message.Kinds() {
		kinds = append(kinds, string(k))
	}
	return routing.Knowledge{Region: number.KnownRegion, Operators: number.Operators, AllOperators: number.AllOperators(), Kinds: kinds}
}

func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	d.warnings = append(d.warnings, &hcl.Diagnostic{
		Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr(),
	})
}

// checkOperator warns about a priced operator no numbering plan of its
// country names: its price would never apply.
func (d *decoder) checkOperator(at hcl.Range, country, operator string, prefixes map[string]string) {
	known := number.Operators(country)
	if len(known) == 0 || slices.Contains(known, operator) {
		return
	}
	for _, op := range prefixes {
		if op == operator {
			return
		}
	}
	d.warnf(at, "Unknown operator", "%s has no operator %q in its numbering plan (names are libphonenumber's: %s), nor in operator_prefixes, so this price never applies%s",
		country, operator, strings.Join(known, ", "), routing.OperatorHint(operator, known))
}

// priceRow is a rate sheet's row, remembered to find repeated entries.
type priceRow struct {
	at    hcl.Range
	price float64
}

// pricedOp is an operator a price names, checked against the numbering
// plans once the operator_prefixes (which may come later in the file) are read.
type pricedOp struct {
	at                hcl.Range
	country, operator string
}

// checkRow warns about a rate-sheet entry given twice: the same price is
// noise, a different one is a mistake in one of them (the last wins).
func (d *decoder) checkRow(rows map[routing.OperatorKey]priceRow, key routing.OperatorKey, row priceRow) {
	what := key.Country
	if key.Operator != "" {
		what += "/" + key.Operator
	}
	if prev, dup := rows[key]; dup {
		if prev.price == row.price {
			d.warnf(row.at, "Duplicate rate-sheet row", "%s is already priced %v on line %d; remove one", what, row.price, prev.at.Start.Line)
		} else {
			d.warnf(row.at, "Conflicting rate-sheet rows", "%s is priced %v on line %d and %v here; this line wins, so remove the wrong one", what, prev.price, prev.at.Start.Line, row.price)
		}
	}
	rows[key] = row
}
