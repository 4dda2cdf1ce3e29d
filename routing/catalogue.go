package routing

import "sort"

// Destination is a price a route can send at: one provider's price per
// segment, in the routing currency, for a country (and operator). An empty
// Country is the provider's default price, for countries without an entry.
type Destination struct {
	Country  string
	Operator string
	Provider string
	Price    float64
}

// Destinations lists the priced destinations the routes reach: each
// candidate provider's prices, for the countries its routes' match rules
// allow. Sorted by country, operator, price, provider.
func (t *Table) Destinations() []Destination {
	if t == nil {
		return nil
	}
	type key struct{ country, operator, provider string }
	seen := map[key]bool{}
	var out []Destination
	add := func(d Destination) {
		k := key{d.Country, d.Operator, d.Provider}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	for _, r := range t.routes {
		allowed := func(c string) bool { return r.countries == nil || r.countries[c] }
		for _, pi := range r.cands {
			p := t.providers[pi]
			for c, price := range p.countries {
				if allowed(c) {
					add(Destination{Country: c, Provider: p.name, Price: price})
				}
			}
			for ok, price := range p.operators {
				if allowed(ok.Country) {
					add(Destination{Country: ok.Country, Operator: ok.Operator, Provider: p.name, Price: price})
				}
			}
			if p.hasDef {
				if r.countries == nil {
					add(Destination{Provider: p.name, Price: p.def})
					continue
				}
				// A route pinned to countries reaches only those, at the
				// default price where no entry says otherwise.
				for c := range r.countries {
					if _, ok := p.countries[c]; !ok {
						add(Destination{Country: c, Provider: p.name, Price: p.def})
					}
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		if a.Operator != b.Operator {
			return a.Operator < b.Operator
		}
		if a.Price != b.Price {
			return a.Price < b.Price
		}
		return a.Provider < b.Provider
	})
	return out
}
