package numbers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/smsrouter/smsrouter/core/number"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Country is a country of the virtual-number API.
type Country struct {
	// ID is CountryID(Code): the same on every server and after every
	// restart.
	ID        int
	Code      string // ISO 3166 alpha-2
	Name      string // English, e.g. "Myanmar (Burma)"
	PhoneCode string // country calling code without "+"
}

// Operator is an operator of the virtual-number API. Its ID is kept in
// the database from the first time a number of it was added, so it never
// changes.
type Operator struct {
	ID        int
	Name      string
	CountryID int
	Country   string // ISO 3166 alpha-2
}

// CountryID is the numeric id of an ISO 3166 alpha-2 code: its two letters
// as base-26 digits, plus one ("AA" is 1, "US" is 539). Derived from the
// code alone, it is stable across restarts, servers and versions without
// a table; 0 means the code is not two letters.
func CountryID(code string) int {
	if len(code) != 2 {
		return 0
	}
	c := strings.ToUpper(code)
	a, b := int(c[0])-'A', int(c[1])-'A'
	if a < 0 || a > 25 || b < 0 || b > 25 {
		return 0
	}
	return a*26 + b + 1
}

// CountryCode is the ISO code of a CountryID; false for an id no code has.
func CountryCode(id int) (string, bool) {
	if id < 1 || id > 26*26 {
		return "", false
	}
	id--
	return string([]byte{byte('A' + id/26), byte('A' + id%26)}), true
}

// CountryName is the English name of an ISO code, or the code itself when
// it names no region.
func CountryName(code string) string {
	r, err := language.ParseRegion(code)
	if err != nil {
		return code
	}
	if n := display.English.Regions().Name(r); n != "" {
		return n
	}
	return code
}

// PhoneCode is a country's calling code without "+" ("MM" → "95"), ""
// when unknown.
func PhoneCode(country string) string {
	if n := number.CallingCodeOf(country); n > 0 {
		return strconv.Itoa(n)
	}
	return ""
}

// OperatorKey is how the store keys an operator's id.
func OperatorKey(country, operator string) string { return fmt.Sprintf("%s/%s", country, operator) }
