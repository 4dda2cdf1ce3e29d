package config

import (
	"math"
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
	// Currency is the currency account credit is kept in; default the
	// routing currency.
	Currency string
	// DefaultCredit is the credit of an account that has none recorded.
	DefaultCredit float64
}

// DefaultAPI is the api block's defaults, the integration guide's limits.
func DefaultAPI() API {
	return API{SMSPerMinute: 100, OTPPerHour: 3, OTPVerifyAttempts: 3, DuplicateWindow: 2 * time.Minute, MaxSegments: 10}
}

var (
	otpSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "length"}, {Name: "ttl"}, {Name: "template"},
	}}
	apiSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "sms_per_minute"}, {Name: "otp_per_hour"}, {Name: "otp_verify_attempts"}, {Name: "duplicate_window"},
		{Name: "max_segments"}, {Name: "sender_ids"}, {Name: "account_sender_ids"}, {Name: "currency"}, {Name: "default_credit"},
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
		if v, ok := d.value(a.Expr, cty.Number); ok {
			f, _ := v.AsBigFloat().Float64()
			o.DefaultCredit = f
		}
	}
}

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
