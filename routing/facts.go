package routing

import "time"

// Facts is what the caller knows about one message. core computes the number
// and text facts; routing adds the local hour and weekday, applies the
// operator prefix table and computes each candidate's facts.
type Facts struct {
	// MessageID makes the weighted strategy's choice stable for a message;
	// when empty, To is used instead.
	MessageID string
	// To is the recipient in E.164, e.g. "+959123456789".
	To string
	// Country is the recipient's ISO 3166-1 alpha-2 region, e.g. "MM"; "" for
	// non-geographic numbers.
	Country string
	// CallingCode is the country calling code without "+", e.g. "95".
	CallingCode string
	// Operator is the recipient's carrier as libphonenumber names it
	// (English), e.g. "Telenor"; "" when unknown. The table's operator prefix
	// list, when it has an entry for To, replaces it.
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
	// Kind is what the application says the message is for: sms (the
	// default), otp, transactional, marketing, ...
	Kind string
	// Account is the sending API account's identifier.
	Account string
	// Length is the text's length in characters (runes).
	Length int
	// Segments is how many SMS parts the text takes in Encoding.
	Segments int
	// Tags are the application's free-form labels for the message.
	Tags map[string]string
	// KeepWhy asks the decision for its Why, the compact record kept
	// with the message (Plan.Why); it costs a few small allocations.
	KeepWhy bool
}

// Env is what a route's match rule sees: the message's facts under their
// rule names. Keep docs/routing.md's table in step with it.
type Env struct {
	To          string            `expr:"to"`
	Country     string            `expr:"country"`
	CallingCode string            `expr:"calling_code"`
	Operator    string            `expr:"operator"`
	NumberType  string            `expr:"number_type"`
	Sender      string            `expr:"sender"`
	Text        string            `expr:"text"`
	Length      int               `expr:"length"`
	Segments    int               `expr:"segments"`
	Encoding    string            `expr:"encoding"`
	Kind        string            `expr:"kind"`
	Account     string            `expr:"account"`
	Tags        map[string]string `expr:"tags"`
	// Hour is 0–23, Minute 0–59, LocalTime "HH:MM" (so rules can compare
	// it: local_time >= '21:30') and Weekday "mon" … "sun", all in the
	// routing time zone at the moment of the decision.
	Hour      int    `expr:"hour"`
	Minute    int    `expr:"minute"`
	LocalTime string `expr:"local_time"`
	Weekday   string `expr:"weekday"`
}

// CandidateEnv is what a route's filter sees for each candidate provider:
// the message's facts plus the provider's.
type CandidateEnv struct {
	Env
	Provider     string `expr:"provider"`
	ProviderKind string `expr:"provider_kind"`
	// Price is the provider's price for one segment to this destination, and
	// Cost the price times the segments, both in the routing currency.
	// HasPrice is false when the provider's pricing has no entry and no
	// default; Price and Cost are then 0.
	Price    float64 `expr:"price"`
	Cost     float64 `expr:"cost"`
	HasPrice bool    `expr:"has_price"`
	Currency string  `expr:"currency"`
	// Balance is the provider account's balance in the routing currency;
	// HasBalance is false (and Balance 0) until the plugin reported one, or
	// when its currency has no conversion rate.
	Balance    float64 `expr:"balance"`
	HasBalance bool    `expr:"has_balance"`
	Healthy    bool    `expr:"healthy"`
	// SuccessRate is the share (0–1) of recent attempts the provider
	// accepted; 1 with no data. Latency is the mean submit latency over the
	// same window; 0 with no data.
	SuccessRate float64       `expr:"success_rate"`
	Latency     time.Duration `expr:"latency"`
	// ProviderOperators and ProviderCountries are the networks the
	// provider can send on now (operator names as the numbering plan
	// gives them, ISO country codes), for providers that send through SIMs
	// of their own (phones, modem ports); empty for those that do not say.
	ProviderOperators []string `expr:"provider_operators"`
	ProviderCountries []string `expr:"provider_countries"`

	// refusing: down and refusing messages while down; not a rule fact.
	refusing bool
}

// orEmpty shows a missing list as an empty one in explanations.
func orEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

var weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// envVars lists the rule names of Env's fields in the order explanations show them.
var envVars = []string{"to", "country", "calling_code", "operator", "number_type", "sender", "text", "length",
	"segments", "encoding", "kind", "account", "tags", "hour", "minute", "local_time", "weekday"}

// value returns a match variable's value for explanations.
func (e *Env) value(name string) (any, bool) {
	switch name {
	case "to":
		return e.To, true
	case "country":
		return e.Country, true
	case "calling_code":
		return e.CallingCode, true
	case "operator":
		return e.Operator, true
	case "number_type":
		return e.NumberType, true
	case "sender":
		return e.Sender, true
	case "text":
		return e.Text, true
	case "length":
		return e.Length, true
	case "segments":
		return e.Segments, true
	case "encoding":
		return e.Encoding, true
	case "kind":
		return e.Kind, true
	case "account":
		return e.Account, true
	case "tags":
		if e.Tags == nil {
			return map[string]string{}, true
		}
		return e.Tags, true
	case "hour":
		return e.Hour, true
	case "minute":
		return e.Minute, true
	case "local_time":
		return e.LocalTime, true
	case "weekday":
		return e.Weekday, true
	}
	return nil, false
}

// value returns a filter variable's value for explanations.
func (c *CandidateEnv) value(name string) (any, bool) {
	switch name {
	case "provider":
		return c.Provider, true
	case "provider_kind":
		return c.ProviderKind, true
	case "price":
		return c.Price, true
	case "cost":
		return c.Cost, true
	case "has_price":
		return c.HasPrice, true
	case "currency":
		return c.Currency, true
	case "balance":
		return c.Balance, true
	case "has_balance":
		return c.HasBalance, true
	case "healthy":
		return c.Healthy, true
	case "success_rate":
		return c.SuccessRate, true
	case "latency":
		return c.Latency.String(), true
	case "provider_operators":
		return orEmpty(c.ProviderOperators), true
	case "provider_countries":
		return orEmpty(c.ProviderCountries), true
	}
	return c.Env.value(name)
}
