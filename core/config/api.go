package config

import (
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// OTP is the otp block: how one-time codes look and how long they live.
type OTP struct {
	// Length is the number of digits, 4 to 10; default 6.
	Length int
	// TTL is how long a code can be verified; default 5m.
	TTL time.Duration
	// Template is the message text; {code} is replaced by the code.
	Template string
	// Extract are the operator's rules for finding the code in received
	// texts, tried before the built-in ones (extract blocks, in order).
	Extract []OTPPattern
}

// OTPPattern is an extract block: a regular expression whose first
// capture group is the code in texts from Sender ("" for any sender).
type OTPPattern struct {
	Sender  string
	Pattern *regexp.Regexp
}

// DefaultOTP is the otp block's defaults, which the integration guide
// documents.
func DefaultOTP() OTP {
	return OTP{Length: 6, TTL: 300 * time.Second, Template: "Your verification code is {code}"}
}

// API is the api block: what the HTTP API allows each caller.
type API struct {
	// SMSPerMinute caps sends per API key per minute (a key's own
	// sms_per_minute overrides it); 0 means unlimited. Default 100.
	SMSPerMinute int
	// OTPPerHour caps OTP sends per phone number per hour; default 3.
	OTPPerHour int
	// OTPVerifyAttempts caps verify attempts per code; default 3.
	OTPVerifyAttempts int
	// DuplicateWindow refuses the same account, recipient and text again
	// within this long; 0 switches it off. Default 2m.
	DuplicateWindow time.Duration
	// MaxSegments caps one message's segments; default 10.
	MaxSegments int
	// SenderIDs are senders every account may use. With no list here nor
	// for the account, any sender is allowed.
	SenderIDs []string
	// AccountSenderIDs are further senders per account name.
	AccountSenderIDs map[string][]string
	// Currency is the currency account credit is kept in. Accounts are
	// charged the routing prices, so it must be the routing currency; it
	// defaults to it.
	Currency string
	// DefaultCredit is the balance a new account opens with (its first
	// ledger entry); accounts from before the ledger that had no credit
	// recorded get it too.
	DefaultCredit float64
	// CreditLimit is the credit limit new accounts get: how far below
	// zero their balance may go before sends are refused with 402. nil
	// (the default) means no limit: accounts are postpaid and never
	// refused, charges are still recorded. 0 means prepaid.
	CreditLimit *float64
	// LowBalance is the threshold below which a charge fires balance.low
	// (once per crossing) for accounts without their own; nil means none.
	LowBalance *float64
	// DefaultValidity is how long a message may wait for a provider to
	// accept it, from its send time, when the request gives no validity;
	// then it expires. Default 24h.
	DefaultValidity time.Duration
	// MaxValidity caps a request's validity; default 72h.
	MaxValidity time.Duration
	// MaxScheduleAhead is how far ahead send_at may be; default 720h (30
	// days).
	MaxScheduleAhead time.Duration
}

// DefaultAPI is the api block's defaults, the integration guide's limits.
func DefaultAPI() API {
	return API{SMSPerMinute: 100, OTPPerHour: 3, OTPVerifyAttempts: 3, DuplicateWindow: 2 * time.Minute, MaxSegments: 10,
		DefaultValidity: 24 * time.Hour, MaxValidity: 72 * time.Hour, MaxScheduleAhead: 30 * 24 * time.Hour}
}

var (
	otpSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "length"}, {Name: "ttl"}, {Name: "template"},
	}, Blocks: []hcl.BlockHeaderSchema{{Type: "extract"}}}
	otpExtractSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "sender"}, {Name: "pattern", Required: true},
	}}
	apiSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "sms_per_minute"}, {Name: "otp_per_hour"}, {Name: "otp_verify_attempts"}, {Name: "duplicate_window"},
		{Name: "max_segments"}, {Name: "sender_ids"}, {Name: "account_sender_ids"}, {Name: "currency"}, {Name: "default_credit"},
		{Name: "credit_limit"}, {Name: "low_balance"},
		{Name: "default_validity"}, {Name: "max_validity"}, {Name: "max_schedule_ahead"},
	}}
)

func (d *decoder) otp(b *hcl.Block, o *OTP) {
	content, diags := b.Body.Content(otpSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["length"]; a != nil {
		if n, ok := d.intIn(a, 4, 10, "OTP length"); ok {
			o.Length = n
		}
	}
	if a := content.Attributes["ttl"]; a != nil {
		if v, ok := d.duration(a, time.Second, false); ok {
			o.TTL = v
		}
	}
	if a := content.Attributes["template"]; a != nil {
		if v, ok := d.str(a); ok {
			if !strings.Contains(v, "{code}") {
				d.errorf(a.Expr.Range(), "Invalid OTP template", "the template must contain {code}, where the code goes, e.g. %q", DefaultOTP().Template)
			} else {
				o.Template = v
			}
		}
	}
	for _, eb := range content.Blocks {
		if p, ok := d.otpExtract(eb); ok {
			o.Extract = append(o.Extract, p)
		}
	}
}

// otpExtract decodes an extract block, refusing a pattern that would not
// say which part of the match is the code.
func (d *decoder) otpExtract(b *hcl.Block) (OTPPattern, bool) {
	content, diags := b.Body.Content(otpExtractSchema)
	d.diags = append(d.diags, diags...)
	var p OTPPattern
	if a := content.Attributes["sender"]; a != nil {
		p.Sender, _ = d.str(a)
	}
	a := content.Attributes["pattern"]
	if a == nil {
		return p, false
	}
	src, ok := d.str(a)
	if !ok {
		return p, false
	}
	re, err := regexp.Compile(src)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid OTP extract pattern", "%v; the pattern is a Go regular expression (RE2), e.g. %q", err, `PIN ([0-9]{4})`)
		return p, false
	}
	if re.NumSubexp() > 1 {
		d.errorf(a.Expr.Range(), "Invalid OTP extract pattern", "the pattern has %d capture groups; use one, around the code, and (?:…) for any other group", re.NumSubexp())
		return p, false
	}
	p.Pattern = re
	return p, true
}

func (d *decoder) api(b *hcl.Block, o *API) {
	content, diags := b.Body.Content(apiSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	for _, f := range []struct {
		name     string
		dst      *int
		min, max int
	}{
		{"sms_per_minute", &o.SMSPerMinute, 0, math.MaxInt32},
		{"otp_per_hour", &o.OTPPerHour, 1, math.MaxInt32},
		{"otp_verify_attempts", &o.OTPVerifyAttempts, 1, 100},
		{"max_segments", &o.MaxSegments, 1, 255},
	} {
		if a := attrs[f.name]; a != nil {
			if n, ok := d.intIn(a, f.min, f.max, f.name); ok {
				*f.dst = n
			}
		}
	}
	if a := attrs["duplicate_window"]; a != nil {
		if v, ok := d.duration(a, 0, true); ok {
			o.DuplicateWindow = v
		}
	}
	d.validity(attrs, o)
	if a := attrs["sender_ids"]; a != nil {
		if v, ok := d.value(a.Expr, cty.List(cty.String)); ok {
			o.SenderIDs = d.senders(a, v)
		}
	}
	if a := attrs["account_sender_ids"]; a != nil {
		if v, ok := d.value(a.Expr, cty.Map(cty.List(cty.String))); ok {
			o.AccountSenderIDs = map[string][]string{}
			for acc, list := range v.AsValueMap() {
				o.AccountSenderIDs[acc] = d.senders(a, list)
			}
		}
	}
	if a := attrs["currency"]; a != nil {
		if v, ok := d.str(a); ok {
			if !currencyCode(v) {
				d.errorf(a.Expr.Range(), "Invalid currency", "%q is not an ISO 4217 code such as \"USD\"", v)
			} else {
				o.Currency = v
			}
		}
	}
	if a := attrs["default_credit"]; a != nil {
		if f, ok := d.amount(a, true); ok {
			o.DefaultCredit = f
		}
	}
	if a := attrs["credit_limit"]; a != nil {
		if f, ok := d.amount(a, false); ok {
			o.CreditLimit = &f
		}
	}
	if a := attrs["low_balance"]; a != nil {
		if f, ok := d.amount(a, true); ok {
			o.LowBalance = &f
		}
	}
	if a := attrs["currency"]; a != nil {
		d.apiCurrency = a
	}
}

// amount decodes an amount of credit: at most six decimal places (credit
// is kept in millionths), negative only when negOK.
func (d *decoder) amount(a *hcl.Attribute, negOK bool) (float64, bool) {
	v, ok := d.value(a.Expr, cty.Number)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	f, _ := bf.Float64()
	_, frac, _ := strings.Cut(bf.Text('f', -1), ".")
	switch {
	case len(frac) > 6:
		d.errorf(a.Expr.Range(), "Invalid amount", "%s has more than six decimal places; credit is kept in millionths", bf.Text('f', -1))
		return 0, false
	case math.Abs(f) > 1e12:
		d.errorf(a.Expr.Range(), "Invalid amount", "%s is too large", bf.Text('f', -1))
		return 0, false
	case f < 0 && !negOK:
		d.errorf(a.Expr.Range(), "Invalid amount", "want 0 or more, got %s", bf.Text('f', -1))
		return 0, false
	}
	return f, true
}

// validity reads default_validity, max_validity and max_schedule_ahead.
// A default_validity the file sets must fit under max_validity; left out,
// it is lowered to a max_validity below it.
func (d *decoder) validity(attrs hcl.Attributes, o *API) {
	for _, f := range []struct {
		name string
		dst  *time.Duration
		lo   time.Duration
	}{
		{"default_validity", &o.DefaultValidity, MinValidity},
		{"max_validity", &o.MaxValidity, MinValidity},
		{"max_schedule_ahead", &o.MaxScheduleAhead, time.Minute},
	} {
		if a := attrs[f.name]; a != nil {
			v, ok := d.duration(a, 0, false)
			if ok && v < f.lo {
				d.errorf(a.Expr.Range(), "Invalid "+f.name, "%s must be at least %s, got %q", f.name, f.lo, v)
				continue
			}
			if ok {
				*f.dst = v
			}
		}
	}
	if o.DefaultValidity > o.MaxValidity {
		a := attrs["default_validity"]
		if a == nil {
			// Only the maximum was lowered: the default follows it.
			o.DefaultValidity = o.MaxValidity
			return
		}
		d.errorf(a.Expr.Range(), "Invalid validity", "default_validity (%s) is longer than max_validity (%s); raise max_validity or shorten default_validity",
			o.DefaultValidity, o.MaxValidity)
	}
}

// MinValidity is the shortest validity a message may have: a dispatcher
// round and a provider's answer take seconds.
const MinValidity = 10 * time.Second

func currencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func (d *decoder) senders(a *hcl.Attribute, list cty.Value) []string {
	var out []string
	for _, e := range list.AsValueSlice() {
		if e.IsNull() || strings.TrimSpace(e.AsString()) == "" {
			d.errorf(a.Expr.Range(), "Invalid sender ID", "sender IDs must be non-empty strings such as \"MyShop\" or \"+14155550100\"")
			continue
		}
		if len(e.AsString()) > 16 {
			d.errorf(a.Expr.Range(), "Invalid sender ID", "%q is longer than 16 characters (alphanumeric senders are at most 11)", e.AsString())
			continue
		}
		out = append(out, e.AsString())
	}
	return out
}

// intIn decodes a whole number attribute within [lo, hi].
func (d *decoder) intIn(a *hcl.Attribute, lo, hi int, what string) (int, bool) {
	v, ok := d.value(a.Expr, cty.Number)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < int64(lo) || n > int64(hi) {
		d.errorf(a.Expr.Range(), "Invalid "+what, "want a whole number from %d to %d, got %s", lo, hi, bf.String())
		return 0, false
	}
	return int(n), true
}

// duration decodes a duration string of at least lo; zero passes when
// zeroOK (it switches the feature off).
func (d *decoder) duration(a *hcl.Attribute, lo time.Duration, zeroOK bool) (time.Duration, bool) {
	s, ok := d.str(a)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err == nil && (v >= lo && (v > 0 || zeroOK)) {
		return v, true
	}
	hint := "a positive duration such as \"5m\""
	if zeroOK {
		hint = "a duration such as \"2m\", or \"0s\" to switch it off"
	}
	d.errorf(a.Expr.Range(), "Invalid duration", "want %s, got %q", hint, s)
	return 0, false
}
