package routing

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Explanation is the record of one routing decision, for operators asking
// "why did this message go there?". It serialises to JSON as is; Text
// renders it for a terminal.
type Explanation struct {
	Message  MessageFacts `json:"message"`
	TimeZone string       `json:"time_zone"`
	Currency string       `json:"currency"`
	// Routes are the routes tried, in order, up to the one chosen.
	Routes []RouteTrace `json:"routes"`
	// Route and Candidates are the decision: the route that took the
	// message and the providers in the order they will be tried.
	Route      string   `json:"route,omitempty"`
	Candidates []string `json:"candidates"`
	// Hold is set when the chosen route holds the message: it waits until
	// Hold.Until.
	Hold *Hold `json:"hold,omitempty"`
	// Error is set when no route took the message.
	Error string `json:"error,omitempty"`
}

// MessageFacts are the message's facts as the rules saw them.
type MessageFacts struct {
	To          string `json:"to"`
	Country     string `json:"country"`
	CallingCode string `json:"calling_code"`
	Operator    string `json:"operator"`
	// OperatorPrefix is the operator prefix table entry that set Operator,
	// or "" when it came from libphonenumber.
	OperatorPrefix string            `json:"operator_prefix,omitempty"`
	NumberType     string            `json:"number_type"`
	Sender         string            `json:"sender"`
	Text           string            `json:"text"`
	Length         int               `json:"length"`
	Segments       int               `json:"segments"`
	Encoding       string            `json:"encoding"`
	Kind           string            `json:"kind"`
	Account        string            `json:"account"`
	Tags           map[string]string `json:"tags"`
	Hour           int               `json:"hour"`
	LocalTime      string            `json:"local_time"`
	Weekday        string            `json:"weekday"`
}

// RouteTrace is one route's part in a decision.
type RouteTrace struct {
	Name    string `json:"name"`
	Default bool   `json:"default,omitempty"`
	Match   string `json:"match,omitempty"`
	// Values are the variables the match rule read.
	Values  map[string]any `json:"values,omitempty"`
	Matched bool           `json:"matched"`
	// Error is the match rule's run-time error, if any.
	Error      string           `json:"error,omitempty"`
	Filter     string           `json:"filter,omitempty"`
	Candidates []CandidateTrace `json:"candidates,omitempty"`
	Strategy   string           `json:"strategy"`
	// Order is the kept candidates in strategy order (chosen route only).
	Order []string `json:"order,omitempty"`
	// Weights and Draw show how the weighted strategy picked the first of
	// the kept candidates (chosen weighted route only).
	Weights map[string]int `json:"weights,omitempty"`
	Draw    *Draw          `json:"draw,omitempty"`
	// Hold is the route's hold action, e.g. "quiet_hours 22:00–06:00
	// Asia/Yangon" (chosen route only).
	Hold    string `json:"hold,omitempty"`
	Outcome string `json:"outcome"`
}

// Draw is the weighted strategy's draw: Value (0 ≤ Value < Total, the sum
// of the kept candidates' weights) comes from hashing Key, the message id
// (or, without one, the recipient), so a message always draws the same.
// Walking the kept candidates in listed order, the first whose cumulative
// weight exceeds Value goes first.
type Draw struct {
	Key            string `json:"key"`
	KeyIsMessageID bool   `json:"key_is_message_id"`
	Value          int    `json:"value"`
	Total          int    `json:"total"`
}

// CandidateTrace is one candidate provider's facts and whether the route's
// filter kept it.
type CandidateTrace struct {
	Provider   string  `json:"provider"`
	Kind       string  `json:"kind"`
	Kept       bool    `json:"kept"`
	Price      float64 `json:"price"`
	Cost       float64 `json:"cost"`
	HasPrice   bool    `json:"has_price"`
	Balance    float64 `json:"balance"`
	HasBalance bool    `json:"has_balance"`
	Healthy    bool    `json:"healthy"`
	// HealthDetail says why an unhealthy provider is (its plugin's state or
	// last health check), when known.
	HealthDetail string  `json:"health_detail,omitempty"`
	SuccessRate  float64 `json:"success_rate"`
	Latency      string  `json:"latency"`
	// FailoverOn are the refusal codes that send a message on from this
	// candidate to the next instead of failing it.
	FailoverOn []string `json:"failover_on,omitempty"`
	// Values are the variables the filter read.
	Values map[string]any `json:"values,omitempty"`
	// Error is the filter's run-time error, if any (the candidate is then
	// dropped).
	Error string `json:"error,omitempty"`
}

func (ex *Explanation) describe(t *Table, env *Env, f Facts, prefix string) {
	tags := f.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	ex.Message = MessageFacts{To: env.To, Country: env.Country, CallingCode: env.CallingCode, Operator: env.Operator,
		OperatorPrefix: prefix, NumberType: env.NumberType, Sender: env.Sender, Text: env.Text, Length: env.Length,
		Segments: env.Segments, Encoding: env.Encoding, Kind: env.Kind, Account: env.Account, Tags: tags,
		Hour: env.Hour, LocalTime: env.LocalTime, Weekday: env.Weekday}
	ex.TimeZone = t.loc.String()
	ex.Currency = t.currency
}

func values(names []string, get func(string) (any, bool)) map[string]any {
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]any, len(names))
	for _, n := range names {
		if v, ok := get(n); ok {
			if f, isFloat := v.(float64); isFloat {
				v = round(f)
			}
			m[n] = v
		}
	}
	return m
}

func candidateTrace(ce *CandidateEnv, healthDetail string, filter *rule, keep bool, err error) CandidateTrace {
	ct := CandidateTrace{Provider: ce.Provider, Kind: ce.ProviderKind, Kept: keep, Price: round(ce.Price), Cost: round(ce.Cost),
		HasPrice: ce.HasPrice, Balance: round(ce.Balance), HasBalance: ce.HasBalance, Healthy: ce.Healthy,
		SuccessRate: round(ce.SuccessRate), Latency: ce.Latency.String()}
	if !ce.Healthy {
		ct.HealthDetail = healthDetail
	}
	if filter != nil {
		ct.Values = values(filter.vars, ce.value)
	}
	if err != nil {
		ct.Error = err.Error()
	}
	return ct
}

// Text renders the explanation for a terminal.
func (ex Explanation) Text() string {
	var b strings.Builder
	m := ex.Message
	op := m.Operator
	if op == "" {
		op = "unknown"
	}
	if m.OperatorPrefix != "" {
		op += " (operator prefix " + m.OperatorPrefix + ")"
	}
	fmt.Fprintf(&b, "message   %s  country %s (+%s), operator %s, %s\n", m.To, orDash(m.Country), m.CallingCode, op, m.NumberType)
	fmt.Fprintf(&b, "          kind %s, %d segment(s) %s, %d characters, sender %q, account %q, tags %s\n",
		m.Kind, m.Segments, m.Encoding, m.Length, m.Sender, m.Account, formatValue(m.Tags))
	fmt.Fprintf(&b, "          local time %s %s (%s); costs in %s\n", m.LocalTime, m.Weekday, ex.TimeZone, ex.Currency)
	for i, r := range ex.Routes {
		def := ""
		if r.Default {
			def = " (default)"
		}
		fmt.Fprintf(&b, "\nroute %d   %s%s: %s\n", i+1, r.Name, def, r.Outcome)
		if r.Match != "" {
			fmt.Fprintf(&b, "  match   %s\n", indentRule(r.Match))
			if len(r.Values) > 0 {
				fmt.Fprintf(&b, "          with %s\n", formatValues(r.Values))
			}
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "  error   %s\n", oneLine(r.Error))
		}
		if !r.Matched {
			continue
		}
		if r.Filter != "" {
			fmt.Fprintf(&b, "  filter  %s\n", indentRule(r.Filter))
		}
		for _, c := range r.Candidates {
			verdict := "kept   "
			if !c.Kept {
				verdict = "dropped"
			}
			fmt.Fprintf(&b, "  %s %s (%s): %s", verdict, c.Provider, c.Kind, candidateSummary(c, ex.Currency))
			switch {
			case c.Error != "":
				fmt.Fprintf(&b, "; filter failed: %s", oneLine(c.Error))
			case len(c.Values) > 0:
				fmt.Fprintf(&b, "; filter %t with %s", c.Kept, formatValues(c.Values))
			}
			b.WriteString("\n")
		}
		if r.Draw != nil {
			key := "recipient"
			if r.Draw.KeyIsMessageID {
				key = "message id"
			}
			fmt.Fprintf(&b, "  draw    %d of %d from %s %q, weights %s\n", r.Draw.Value, r.Draw.Total, key, r.Draw.Key, formatWeights(r.Weights, r.Candidates))
		}
		if len(r.Order) > 0 {
			fmt.Fprintf(&b, "  %s  %s\n", r.Strategy, strings.Join(r.Order, ", "))
		}
		if r.Hold != "" {
			fmt.Fprintf(&b, "  hold    %s\n", r.Hold)
		}
	}
	b.WriteString("\n")
	if ex.Error != "" {
		fmt.Fprintf(&b, "choice    none: %s\n", ex.Error)
	} else {
		fmt.Fprintf(&b, "choice    route %s: %s\n", ex.Route, strings.Join(ex.Candidates, ", "))
	}
	if ex.Hold != nil {
		fmt.Fprintf(&b, "held      %s (%s)\n", ex.Hold.Reason, ex.Hold.Until.Format("2006-01-02T15:04Z07:00"))
	}
	return b.String()
}

func candidateSummary(c CandidateTrace, currency string) string {
	var parts []string
	if c.HasPrice {
		parts = append(parts, fmt.Sprintf("cost %s %s", num(c.Cost), currency))
	} else {
		parts = append(parts, "no price")
	}
	if c.HasBalance {
		parts = append(parts, fmt.Sprintf("balance %s %s", num(c.Balance), currency))
	} else {
		parts = append(parts, "balance unknown")
	}
	if c.Healthy {
		parts = append(parts, "healthy")
	} else if c.HealthDetail != "" {
		parts = append(parts, "unhealthy ("+c.HealthDetail+")")
	} else {
		parts = append(parts, "unhealthy")
	}
	parts = append(parts, fmt.Sprintf("success %s", num(c.SuccessRate)), "latency "+c.Latency)
	if len(c.FailoverOn) > 0 {
		parts = append(parts, "fails over on "+strings.Join(c.FailoverOn, " "))
	}
	return strings.Join(parts, ", ")
}

// formatWeights lists the kept candidates' weights in listed order.
func formatWeights(w map[string]int, cands []CandidateTrace) string {
	var parts []string
	for _, c := range cands {
		if n, ok := w[c.Provider]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", c.Provider, n))
		}
	}
	return strings.Join(parts, " ")
}

func formatValues(v map[string]any) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + formatValue(v[k])
	}
	return strings.Join(parts, " ")
}

func formatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case float64:
		return num(v)
	case map[string]string:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + strconv.Quote(v[k])
		}
		return "{" + strings.Join(parts, " ") + "}"
	}
	return fmt.Sprint(v)
}

// round hides float noise from currency conversion (0.011000000000000001)
// in explanations; nine decimals are finer than any price.
func round(f float64) float64 { return math.Round(f*1e9) / 1e9 }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// indentRule lines a heredoc rule's continuation lines up under its first,
// keeping the indentation the operator gave them.
func indentRule(src string) string {
	return strings.ReplaceAll(strings.TrimRight(src, "\n"), "\n", "\n          ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
