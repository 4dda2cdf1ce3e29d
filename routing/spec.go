package routing

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Strategies a route may use to order the candidates its filter kept.
const (
	// StrategyFailover keeps the listed order (the default).
	StrategyFailover = "failover"
	// StrategyLeastCost orders by cost, cheapest first; equal costs keep the
	// listed order and candidates without a price come last.
	StrategyLeastCost = "least_cost"
	// StrategyWeighted picks the first candidate at random by weight, the
	// same way for the same message id; the others follow in listed order.
	StrategyWeighted = "weighted"
	// StrategyRoundRobin rotates the first candidate message by message.
	StrategyRoundRobin = "round_robin"
)

// Spec is everything Compile needs: the routes in the order they are tried,
// the providers they may name, and the table-wide settings.
type Spec struct {
	Routes    []RouteConfig
	Providers []ProviderConfig
	Settings  Settings
}

// Settings are the routing block's table-wide settings.
type Settings struct {
	// Location is the time zone of the hour and weekday facts; nil is UTC.
	Location *time.Location
	// Currency is the one currency costs and balances are compared in
	// (ISO 4217, e.g. "USD"); "" means DefaultCurrency.
	Currency string
	// Conversion gives, per other currency, what one unit of it is worth in
	// Currency: {"EUR": 1.08} means 1 EUR = 1.08 USD when Currency is USD.
	Conversion map[string]float64
	// OperatorPrefixes maps E.164 prefixes ("+95979") to operator names; the
	// longest prefix of a message's number replaces libphonenumber's
	// operator, for ported numbers and ranges its data does not know yet.
	OperatorPrefixes map[string]string
	// RecipientZone gives the time zone of a recipient (E.164) for holds
	// with zone = "recipient"; nil, or a nil answer, means the routing
	// time zone.
	RecipientZone func(to string) *time.Location
	// CurrencyRange and ConversionRange point errors at the routing block's
	// attributes.
	CurrencyRange, ConversionRange hcl.Range
}

// DefaultCurrency is the routing currency when the configuration names none.
const DefaultCurrency = "USD"

// ProviderConfig is what routing needs to know about one configured provider.
type ProviderConfig struct {
	Name string
	// Kind is the plugin kind (smpp, twilio, …), or "external" for a plugin
	// binary given by path; rules see it as provider_kind.
	Kind    string
	Pricing Pricing
	// FailoverOn is the provider's default list of refusal codes
	// (sdk.Refusal names) that send a message on to the route's next
	// candidate instead of failing it; a route's own list replaces it.
	FailoverOn []string
}

// Pricing is a provider's price list: the price of one segment, by the most
// specific entry that matches (country and operator, then country, then the
// default).
type Pricing struct {
	// Currency the prices are in; "" means the routing currency.
	Currency string
	// Default applies to destinations with no entry; HasDefault says
	// whether there is one.
	Default    float64
	HasDefault bool
	// Countries maps ISO alpha-2 regions ("MM") to prices.
	Countries map[string]float64
	// Operators maps a region and operator name to a price.
	Operators map[OperatorKey]float64
	// Range is the pricing block's position; CurrencyRange the currency
	// attribute's.
	Range, CurrencyRange hcl.Range
}

// OperatorKey names one operator in one country, since operator names such
// as "Telenor" or "Vodafone" recur across countries.
type OperatorKey struct {
	Country  string
	Operator string
}

// Rule is one expr expression from the configuration.
type Rule struct {
	// Source is the expression's text; "" means no rule.
	Source string
	// Range is the whole configuration expression holding it.
	Range hcl.Range
	// At maps a rune offset in Source to its position in the file, so errors
	// point inside the expression; nil points every error at Range.Start.
	At func(offset int) hcl.Pos
}

func (r Rule) pos(offset int) hcl.Range {
	p := r.Range.Start
	if r.At != nil {
		p = r.At(offset)
	}
	return hcl.Range{Filename: r.Range.Filename, Start: p, End: p}
}

// RouteConfig is one decoded route block.
type RouteConfig struct {
	// Name is the block label, e.g. route "myanmar-otp" { ... }.
	Name string
	// Default marks the route that catches every message no other route
	// took. Exactly one route is the default and it comes last.
	Default bool
	// Match selects the messages the route takes; required unless Default.
	Match Rule
	// Filter, when set, keeps only the candidates it is true for.
	Filter Rule
	// Strategy orders the kept candidates; "" means StrategyFailover.
	Strategy string
	// Weights are the weighted strategy's shares per provider.
	Weights map[string]int
	// Candidates are provider names, in the order they are listed.
	Candidates []string
	// FailoverOn, when set (even empty), replaces the candidates' own
	// failover_on: the refusal codes that send a message on to the next
	// candidate instead of failing it.
	FailoverOn    []string
	HasFailoverOn bool
	// Hold, when set, defers the messages the route takes to a time of
	// day (hold_until, quiet_hours) instead of sending them at once.
	Hold *HoldConfig

	// Range is the block's header ("route \"name\""), used to point errors at it.
	Range hcl.Range
	// DefaultRange is the default attribute's range, or Range when absent.
	DefaultRange hcl.Range
	// CandidatesRange is the candidates attribute's range, or Range when absent.
	CandidatesRange hcl.Range
	// CandidateRanges holds each candidate's own range when the decoder knows
	// it (a literal list); otherwise it is nil and CandidatesRange is used.
	CandidateRanges []hcl.Range
	// StrategyRange and WeightsRange are those attributes' ranges, or Range.
	StrategyRange, WeightsRange hcl.Range
}

// Candidate is one provider a plan offers.
type Candidate struct {
	// Provider is the configured provider's name.
	Provider string
	// Price is the provider's price for one segment of this message, in
	// the routing currency; HasPrice is false when its pricing has no entry
	// (and no default) for the destination, and Price is then 0.
	Price    float64
	HasPrice bool
	// FailoverOn are the refusal codes that send the message on from this
	// candidate to the next instead of failing it.
	FailoverOn []string
}

// Plan is the ordered list of candidates for one message: the dispatcher
// tries the first and fails over down the list.
type Plan struct {
	// Route is the name of the route that took the message.
	Route string
	// Candidates are the providers to try, best first; never empty.
	Candidates []Candidate
	// Hold, when its Until is set, is the route's hold: the message waits
	// queued until then.
	Hold Hold
	// Why records the decision compactly when Facts.KeepWhy asked for it;
	// nil otherwise.
	Why *Why
}

// NoRouteError is returned by Plan when no route takes the message.
type NoRouteError struct {
	To      string
	Country string
	// Refused is set when routes matched but their filters dropped only
	// providers that are down and refuse messages while down
	// (ProviderState.RefuseWhileDown): the caller may answer "No gateway
	// online" rather than "no route".
	Refused bool
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
