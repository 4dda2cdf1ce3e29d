package number

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalid is what every rejected number matches with errors.Is. Its text
// is the API's error message, word for word, so it is capitalised.
var ErrInvalid = errors.New("Invalid phone number format") //nolint:staticcheck // API text

// InvalidError is the error Parse returns. Error() is exactly ErrInvalid's
// text so it can be shown to applications as is; Reason says why for logs.
type InvalidError struct {
	// Input is the number as given.
	Input string
	// Reason is a short operator-facing explanation, e.g. "must start with +".
	Reason string
}

func (e *InvalidError) Error() string { return ErrInvalid.Error() }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Number is a parsed, possible phone number.
type Number struct {
	// E164 is the canonical form, e.g. "+959123456789".
	E164 string
	// Country is the ISO 3166-1 alpha-2 region, e.g. "MM"; "" for
	// non-geographic numbers such as +800 or +882.
	Country string
	// CallingCode is the country calling code without "+", e.g. "95".
	CallingCode string
	// Operator is the English carrier name from libphonenumber's prefix data,
	// e.g. "Vodafone"; "" when unknown. Number portability makes it a guess.
	Operator string
	// Type is the line type: mobile, fixed_line, fixed_line_or_mobile,
	// toll_free, premium_rate, shared_cost, voip, personal_number, pager, uan,
	// voicemail or unknown (numbers that are possible but not valid).
	Type string
}

var typeNames = map[phonenumbers.PhoneNumberType]string{
	phonenumbers.FIXED_LINE:           "fixed_line",
	phonenumbers.MOBILE:               "mobile",
	phonenumbers.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
	phonenumbers.TOLL_FREE:            "toll_free",
	phonenumbers.PREMIUM_RATE:         "premium_rate",
	phonenumbers.SHARED_COST:          "shared_cost",
	phonenumbers.VOIP:                 "voip",
	phonenumbers.PERSONAL_NUMBER:      "personal_number",
	phonenumbers.PAGER:                "pager",
	phonenumbers.UAN:                  "uan",
	phonenumbers.VOICEMAIL:            "voicemail",
	phonenumbers.UNKNOWN:              "unknown",
}

// DefaultCacheSize is how many numbers the package-level Parse remembers.
// At roughly 200 bytes an entry this bounds the cache near 2 MB.
const DefaultCacheSize = 10000

var std = NewParser(DefaultCacheSize)

// Parse parses raw with a shared, bounded cache. See Parser.Parse.
func Parse(raw string) (Number, error) { return std.Parse(raw) }

// Parser parses numbers and remembers recent results, because parsing and
// the carrier lookup dominate the cost of a routing decision
// (docs/performance.md, Routing) and the same recipients recur. It is safe
// for concurrent use.
type Parser struct {
	cache *cache
}

// NewParser returns a Parser that remembers up to size numbers; size <= 0
// disables the cache.
func NewParser(size int) *Parser {
	p := &Parser{}
	if size > 0 {
		p.cache = newCache(size)
	}
	return p
}

// Parse accepts a number in international form: a leading "+" followed by
// digits, with spaces, dashes and parentheses tolerated between them. Every
// number libphonenumber calls possible for its region is accepted, including
// ones it does not call valid (e.g. "+959123456789"), because its validity
// data lags behind new number ranges and refusing a real subscriber is worse
// than letting the provider decide. Anything else fails with an
// *InvalidError that matches ErrInvalid.
func (p *Parser) Parse(raw string) (Number, error) {
	key, reason := clean(raw)
	if reason != "" {
		return Number{}, &InvalidError{Input: raw, Reason: reason}
	}
	if p.cache != nil {
		if n, ok := p.cache.get(key); ok {
			return n, nil
		}
	}
	n, reason := parse(key)
	if reason != "" {
		return Number{}, &InvalidError{Input: raw, Reason: reason}
	}
	if p.cache != nil {
		p.cache.put(key, n)
	}
	return n, nil
}

// clean returns "+" and the digits of raw, or a reason it is not in
// international form. Letters are refused here because libphonenumber would
// otherwise read them as a keypad vanity number.
func clean(raw string) (string, string) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", "empty"
	}
	if s[0] != '+' {
		return "", "must start with + and the country calling code"
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteByte('+')
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')':
		default:
			return "", "only digits, spaces, dashes and parentheses may follow +"
		}
	}
	if b.Len() == 1 {
		return "", "no digits"
	}
	return b.String(), ""
}

// parse computes the facts of a cleaned number. Numbers in plain
// international form skip libphonenumber's general-purpose parsing, and
// every number its per-call pattern lookups (plan.go); the answers are the
// library's.
func parse(e164ish string) (Number, string) {
	pn, nsn, ok := parseInternational(e164ish)
	if !ok {
		var err error
		if pn, err = phonenumbers.Parse(e164ish, phonenumbers.UNKNOWN_REGION); err != nil {
			return Number{}, err.Error()
		}
		nsn = phonenumbers.GetNationalSignificantNumber(pn)
	}
	cc := int(pn.GetCountryCode())
	if !possible(cc, nsn) {
		return Number{}, "not a possible number for its country"
	}
	region, typ := regionAndType(cc, nsn)
	if region == "" || region == phonenumbers.UNKNOWN_REGION {
		// Possible-but-invalid numbers in shared calling codes (+1, +7, +44)
		// match no region's validity patterns; the code's main region is the
		// best guess routing can get.
		region = phonenumbers.GetRegionCodeForCountryCode(cc)
	}
	if region == phonenumbers.UNKNOWN_REGION || region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		region = ""
	}
	// A missing carrier is normal (fixed lines, ported or new ranges), so a
	// lookup error only leaves Operator empty.
	operator, _ := phonenumbers.GetCarrierForNumber(pn, "en")
	callingCode := strconv.Itoa(cc)
	return Number{
		// What phonenumbers.Format(pn, E164) writes, without building the
		// national significant number again.
		E164:        "+" + callingCode + nsn,
		Country:     region,
		CallingCode: callingCode,
		Operator:    operator,
		Type:        typeNames[typ],
	}, ""
}

// cache keeps two generations of entries: lookups hit the current one or
// promote from the previous one, and when the current generation fills up the
// previous one is dropped whole. That keeps recently used numbers at O(1)
// cost per operation without an LRU list.
type cache struct {
	mu       sync.Mutex
	cur, old map[string]Number
	genSize  int
}

func newCache(size int) *cache {
	gen := max(size/2, 1)
	return &cache{cur: make(map[string]Number, gen), genSize: gen}
}

func (c *cache) get(k string) (Number, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.cur[k]; ok {
		return n, true
	}
	if n, ok := c.old[k]; ok {
		delete(c.old, k)
		c.putLocked(k, n)
		return n, true
	}
	return Number{}, false
}

func (c *cache) put(k string, n Number) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, n)
}

func (c *cache) putLocked(k string, n Number) {
	if len(c.cur) >= c.genSize {
		c.old, c.cur = c.cur, make(map[string]Number, c.genSize)
	}
	c.cur[k] = n
}

// CallingCodeOf is the country calling code of an ISO 3166 alpha-2 region
// ("MM" → 95); 0 for a region libphonenumber does not know.
func CallingCodeOf(region string) int { return phonenumbers.GetCountryCodeForRegion(region) }
