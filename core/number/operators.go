package number

import (
	"slices"
	"strconv"

	"github.com/nyaruka/phonenumbers"
)

//go:generate go run ./internal/gencarriers

// Operators lists the operator names libphonenumber knows for region (ISO
// 3166 alpha-2, e.g. "MM"), sorted; nil for a region it has no carrier
// data for. Names are shared by the regions of one calling code (+1).
func Operators(region string) []string {
	cc := phonenumbers.GetCountryCodeForRegion(region)
	if cc == 0 {
		return nil
	}
	return carriers[strconv.Itoa(cc)]
}

// KnownRegion reports whether region is an ISO 3166 alpha-2 code
// libphonenumber has a numbering plan for.
func KnownRegion(region string) bool {
	return phonenumbers.GetSupportedRegions()[region]
}

// AllOperators lists every operator name libphonenumber knows, sorted.
func AllOperators() []string {
	var out []string
	for _, names := range carriers {
		out = append(out, names...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
