package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Amount is an amount of money in micro-units of the currency.
type Amount int64

// Unit is one whole unit of the currency (one dollar, one euro).
const Unit Amount = 1_000_000

// decimals is how many decimal places an Amount keeps.
const decimals = 6

// ErrOutOfRange means an amount is too large to hold.
var ErrOutOfRange = errors.New("amount out of range")

// FromFloat rounds f, in whole currency units, to the nearest micro-unit.
// Prices come from configuration as floats; they become exact here, once,
// before anything is multiplied or added.
func FromFloat(f float64) (Amount, error) {
	v := math.Round(f * float64(Unit))
	if math.IsNaN(v) || v > math.MaxInt64/2 || v < math.MinInt64/2 {
		return 0, fmt.Errorf("%v: %w", f, ErrOutOfRange)
	}
	return Amount(v), nil
}

// Parse reads a decimal amount such as "12.5", "-3" or "0.000125"; more
// than six decimal places is an error rather than a silent rounding.
func Parse(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && frac == "" || (hasDot && frac == "") || strings.ContainsAny(whole+frac, "+-eE") {
		return 0, fmt.Errorf("%q is not an amount such as 12.50", s)
	}
	if len(frac) > decimals {
		return 0, fmt.Errorf("%q has more than %d decimal places", s, decimals)
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an amount such as 12.50", s)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", decimals-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("%q is not an amount such as 12.50", s)
		}
	}
	if w > (math.MaxInt64/2)/int64(Unit) {
		return 0, fmt.Errorf("%q: %w", s, ErrOutOfRange)
	}
	a := Amount(w)*Unit + Amount(f)
	if neg {
		a = -a
	}
	return a, nil
}

// Float64 is the amount in whole units, for JSON numbers and display; it
// is exact for every amount below 2^53 micro-units (about 9 billion units).
func (a Amount) Float64() float64 { return float64(a) / float64(Unit) }

// String writes the amount in whole units with as few decimals as it
// needs: "12.5", "-0.000125", "3".
func (a Amount) String() string {
	neg := a < 0
	u := uint64(a)
	if neg {
		u = uint64(-a)
	}
	whole, frac := u/uint64(Unit), u%uint64(Unit)
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		f := fmt.Sprintf("%06d", frac)
		s += "." + strings.TrimRight(f, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// MarshalJSON writes the amount as an exact JSON number in whole units.
func (a Amount) MarshalJSON() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalJSON reads a JSON number (or a string holding one) in whole
// units, refusing more than six decimal places.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" {
		return errors.New("an amount is required, not null")
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*a = v
	return nil
}
