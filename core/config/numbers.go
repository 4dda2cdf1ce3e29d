package config

import (
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Numbers is the numbers block: how the numbers applications lease to
// receive on are leased (see docs/numbers.md).
type Numbers struct {
	// Lease is how long an assignment lasts by default; default 20m.
	Lease time.Duration
	// MaxLease caps a lease with its extensions; default 24h.
	MaxLease time.Duration
	// Quarantine is how long a number rests after a lease, its messages
	// still going to the last holder; default 10m, "0s" for none.
	Quarantine time.Duration
	// RefundUnused refunds an assignment no message reached.
	RefundUnused bool
	// SweepEvery is how often leases and quarantines are ended; default 15s.
	SweepEvery time.Duration
}

// DefaultNumbers is the numbers block's defaults.
func DefaultNumbers() Numbers {
	return Numbers{Lease: 20 * time.Minute, MaxLease: 24 * time.Hour, Quarantine: 10 * time.Minute, SweepEvery: 15 * time.Second}
}

// NumberPrices is the assignment attribute of a provider's pricing block:
// what leasing one of the provider's numbers costs, in the routing
// currency.
type NumberPrices struct {
	Default    float64
	HasDefault bool
	// Countries maps "MM" and Operators "MM/Telenor" to a price.
	Countries map[string]float64
	Operators map[string]float64
}

// Price is the price of leasing a number of country and operator, and
// whether there is one.
func (p NumberPrices) Price(country, operator string) (float64, bool) {
	if f, ok := p.Operators[country+"/"+operator]; ok && operator != "" {
		return f, true
	}
	if f, ok := p.Countries[country]; ok {
		return f, true
	}
	return p.Default, p.HasDefault
}

var (
	numbersSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "lease"}, {Name: "max_lease"}, {Name: "quarantine"}, {Name: "refund_unused"}, {Name: "sweep_every"},
	}}
	// A provider's number: E.164, or a short code with its country
	// ("55555/US").
	e164Pattern      = regexp.MustCompile(`^\+[1-9][0-9]{4,14}$`)
	shortCodePattern = regexp.MustCompile(`^[0-9]{3,8}/[A-Z]{2}$`)
)

func (d *decoder) numbers(b *hcl.Block, o *Numbers) {
	content, diags := b.Body.Content(numbersSchema)
	d.diags = append(d.diags, diags...)
	for _, f := range []struct {
		name   string
		dst    *time.Duration
		lo     time.Duration
		zeroOK bool
	}{
		{"lease", &o.Lease, time.Minute, false},
		{"max_lease", &o.MaxLease, time.Minute, false},
		{"quarantine", &o.Quarantine, 0, true},
		{"sweep_every", &o.SweepEvery, time.Second, false},
	} {
		if a := content.Attributes[f.name]; a != nil {
			if v, ok := d.duration(a, f.lo, f.zeroOK); ok {
				*f.dst = v
			}
		}
	}
	if a := content.Attributes["refund_unused"]; a != nil {
		if v, ok := d.boolean(a); ok {
			o.RefundUnused = v
		}
	}
	if o.MaxLease < o.Lease {
		d.errorf(b.DefRange, "Invalid numbers block", "max_lease (%s) is shorter than lease (%s); a lease cannot outgrow its cap", o.MaxLease, o.Lease)
	}
}

// providerNumbers reads a provider's numbers attribute.
func (d *decoder) providerNumbers(a *hcl.Attribute) ([]string, bool) {
	v, ok := d.value(a.Expr, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		s := strings.TrimSpace(e.AsString())
		if !e164Pattern.MatchString(s) && !shortCodePattern.MatchString(s) {
			d.errorf(a.Expr.Range(), "Invalid number", "%q is neither E.164 such as \"+15017122661\" nor a short code with its country such as \"55555/US\"", s)
			ok = false
			continue
		}
		out = append(out, s)
	}
	return out, ok
}

// assignmentPrices reads a pricing block's assignment attribute:
// { default = 0.5, US = 0.4, "US/Verizon" = 0.45 }.
func (d *decoder) assignmentPrices(a *hcl.Attribute, p *NumberPrices) bool {
	v, ok := d.value(a.Expr, cty.Map(cty.Number))
	if !ok {
		return false
	}
	m := v.AsValueMap()
	for _, k := range sortedKeys(m) {
		f, _ := m[k].AsBigFloat().Float64()
		if !validPrice(f) {
			d.errorf(a.Expr.Range(), "Invalid price", "the assignment price for %s must be zero or more, not %v", k, f)
			ok = false
			continue
		}
		country, operator, hasOp := strings.Cut(k, "/")
		switch {
		case k == "default":
			p.Default, p.HasDefault = f, true
		case !countryPattern.MatchString(country) || (hasOp && operator == ""):
			d.errorf(a.Expr.Range(), "Invalid assignment key", "%q must be default, a country such as \"US\" or COUNTRY/Operator such as \"US/Verizon\"", k)
			ok = false
		case hasOp:
			if p.Operators == nil {
				p.Operators = map[string]float64{}
			}
			p.Operators[k] = f
		default:
			if p.Countries == nil {
				p.Countries = map[string]float64{}
			}
			p.Countries[k] = f
		}
	}
	return ok
}
