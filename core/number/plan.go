package number

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// libphonenumber's limits, which its exported API does not name.
const (
	minNSNLength     = 2   // MIN_LENGTH_FOR_NSN
	maxNSNLength     = 17  // MAX_LENGTH_FOR_NSN
	maxInputLength   = 250 // MAX_INPUT_STRING_LENGTH
	maxCallingDigits = 3   // MAX_LENGTH_COUNTRY_CODE
)

// plan is one region's (or non-geographic entity's) numbering plan with its
// patterns compiled once. libphonenumber compiles the same patterns too but
// looks them up per call in a cache keyed by the whole pattern text, after
// building that text anew, and matches each pattern twice per number type;
// with every recipient distinct (a bulk send) that was most of the cost of a
// number's facts.
type plan struct {
	// leadingDigits, when set, is how a region sharing a calling code
	// claims a number without full validation.
	leadingDigits *regexp.Regexp
	// nationalPrefix is the national prefix (and carrier code) pattern
	// libphonenumber strips while parsing; nil when the region has none.
	nationalPrefix *regexp.Regexp
	general        desc
	// generalHasPattern is false for the entities libphonenumber has no
	// numbering data for; any length from 2 to 17 digits is possible there.
	generalHasPattern bool
	// localLengths are the lengths dialled only locally: possible, though
	// not valid in international form.
	localLengths []int32
	// typed are the number types in the order libphonenumber tests them
	// before fixed line and mobile.
	typed           []typedDesc
	fixed, mobile   desc
	sameFixedMobile bool
}

type typedDesc struct {
	typ  phonenumbers.PhoneNumberType
	desc desc
}

// desc is one number type's description: its possible lengths and its
// anchored national number pattern.
type desc struct {
	lengths []int32
	re      *regexp.Regexp
}

// matches is libphonenumber's isNumberMatchingDesc: a possible length
// (when the type lists any) and a full match of its pattern.
func (d desc) matches(nsn string) bool {
	if len(d.lengths) > 0 && !containsLength(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.re.MatchString(nsn)
}

func containsLength(lengths []int32, n int32) bool {
	for _, l := range lengths {
		if l == n {
			return true
		}
	}
	return false
}

func compileDesc(d *phonenumbers.PhoneNumberDesc) desc {
	return desc{lengths: d.GetPossibleLength(), re: regexp.MustCompile("^(?:" + d.GetNationalNumberPattern() + ")$")}
}

func compilePlan(m *phonenumbers.PhoneMetadata) *plan {
	p := &plan{
		general:           compileDesc(m.GetGeneralDesc()),
		generalHasPattern: m.GetGeneralDesc().GetNationalNumberPattern() != "",
		localLengths:      m.GetGeneralDesc().GetPossibleLengthLocalOnly(),
		typed: []typedDesc{
			{phonenumbers.PREMIUM_RATE, compileDesc(m.GetPremiumRate())},
			{phonenumbers.TOLL_FREE, compileDesc(m.GetTollFree())},
			{phonenumbers.SHARED_COST, compileDesc(m.GetSharedCost())},
			{phonenumbers.VOIP, compileDesc(m.GetVoip())},
			{phonenumbers.PERSONAL_NUMBER, compileDesc(m.GetPersonalNumber())},
			{phonenumbers.PAGER, compileDesc(m.GetPager())},
			{phonenumbers.UAN, compileDesc(m.GetUan())},
			{phonenumbers.VOICEMAIL, compileDesc(m.GetVoicemail())},
		},
		fixed:           compileDesc(m.GetFixedLine()),
		mobile:          compileDesc(m.GetMobile()),
		sameFixedMobile: m.GetSameMobileAndFixedLinePattern(),
	}
	if ld := m.GetLeadingDigits(); ld != "" {
		p.leadingDigits = regexp.MustCompile("^(?:" + ld + ")")
	}
	if np := m.GetNationalPrefixForParsing(); np != "" {
		p.nationalPrefix = regexp.MustCompile("^(?:" + np + ")")
	}
	return p
}

// numberType is libphonenumber's getNumberTypeHelper on the compiled plan.
func (p *plan) numberType(nsn string) phonenumbers.PhoneNumberType {
	if !p.general.matches(nsn) {
		return phonenumbers.UNKNOWN
	}
	for _, t := range p.typed {
		if t.desc.matches(nsn) {
			return t.typ
		}
	}
	if p.fixed.matches(nsn) {
		if p.sameFixedMobile || p.mobile.matches(nsn) {
			return phonenumbers.FIXED_LINE_OR_MOBILE
		}
		return phonenumbers.FIXED_LINE
	}
	if !p.sameFixedMobile && p.mobile.matches(nsn) {
		return phonenumbers.MOBILE
	}
	return phonenumbers.UNKNOWN
}

// metadata indexes libphonenumber's metadata as its own lookups do: by
// region, and by calling code for the non-geographic entities ("001").
type metadata struct {
	regions map[string]*phonenumbers.PhoneMetadata
	nonGeo  map[int]*phonenumbers.PhoneMetadata
}

var loadMetadata = sync.OnceValue(func() metadata {
	md := metadata{regions: map[string]*phonenumbers.PhoneMetadata{}, nonGeo: map[int]*phonenumbers.PhoneMetadata{}}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		// The data is embedded in the library; without it nothing parses,
		// and planFor's nil sends every number to the library.
		return md
	}
	for _, m := range coll.GetMetadata() {
		if m.GetId() == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
			md.nonGeo[int(m.GetCountryCode())] = m
		} else {
			md.regions[m.GetId()] = m
		}
	}
	return md
})

// plans holds compiled plans by metadata, compiled on first use so that a
// process only pays for the regions it sees.
var plans sync.Map // *phonenumbers.PhoneMetadata -> *plan

// planFor is the plan libphonenumber's getMetadataForRegionOrCallingCode
// would use for callingCode and region; nil where it has no metadata.
func planFor(callingCode int, region string) *plan {
	md := loadMetadata()
	var m *phonenumbers.PhoneMetadata
	if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		m = md.nonGeo[callingCode]
	} else if phonenumbers.GetSupportedRegions()[region] {
		m = md.regions[region]
	}
	if m == nil {
		return nil
	}
	if p, ok := plans.Load(m); ok {
		return p.(*plan)
	}
	p, _ := plans.LoadOrStore(m, compilePlan(m))
	return p.(*plan)
}

// regionAndType is libphonenumber's GetRegionCodeForNumber and
// GetNumberType for a number of callingCode with national significant
// number nsn, computed together: GetNumberType finds the region again
// itself. The region is "" where libphonenumber's is.
func regionAndType(callingCode int, nsn string) (string, phonenumbers.PhoneNumberType) {
	regions := phonenumbers.GetRegionCodesForCountryCode(callingCode)
	switch len(regions) {
	case 0:
		return "", phonenumbers.UNKNOWN
	case 1:
		p := planFor(callingCode, regions[0])
		if p == nil {
			return regions[0], phonenumbers.UNKNOWN
		}
		return regions[0], p.numberType(nsn)
	}
	for _, r := range regions {
		p := planFor(callingCode, r)
		if p == nil {
			continue
		}
		if p.leadingDigits != nil {
			if p.leadingDigits.MatchString(nsn) {
				return r, p.numberType(nsn)
			}
		} else if t := p.numberType(nsn); t != phonenumbers.UNKNOWN {
			return r, t
		}
	}
	return "", phonenumbers.UNKNOWN
}

// parseInternational is what phonenumbers.Parse(e164ish,
// UNKNOWN_REGION) returns for "+" and ASCII digits, without its scanning
// for punctuation, letters and extensions (none can be in such a string).
// It also returns the number's national significant number (the digits
// after the calling code, leading zeros included). ok is false where the
// outcome needs the library: an error, or a national prefix after the
// calling code, which it strips by the region's rules.
func parseInternational(e164ish string) (*phonenumbers.PhoneNumber, string, bool) {
	if len(e164ish) > maxInputLength || len(e164ish) < 2 || e164ish[0] != '+' {
		return nil, "", false
	}
	cc, national := splitCallingCode(e164ish[1:])
	if cc == 0 || len(national) < minNSNLength || len(national) > maxNSNLength {
		return nil, "", false
	}
	p := planFor(cc, phonenumbers.GetRegionCodeForCountryCode(cc))
	if p == nil || (p.nationalPrefix != nil && p.nationalPrefix.MatchString(national)) {
		return nil, "", false
	}
	nn, err := strconv.ParseUint(national, 10, 64)
	if err != nil {
		return nil, "", false
	}
	cc32 := int32(cc)
	pn := &phonenumbers.PhoneNumber{CountryCode: &cc32, NationalNumber: &nn}
	setLeadingZeros(national, pn)
	return pn, national, true
}

// possible is libphonenumber's IsPossibleNumber for a number of
// callingCode with national significant number nsn: its length is one the
// main region of the calling code allows, locally or in full.
func possible(callingCode int, nsn string) bool {
	if !phonenumbers.GetSupportedCallingCodes()[callingCode] {
		return false
	}
	p := planFor(callingCode, phonenumbers.GetRegionCodeForCountryCode(callingCode))
	if p == nil {
		return false
	}
	n := int32(len(nsn))
	if !p.generalHasPattern {
		return n >= minNSNLength && n <= maxNSNLength
	}
	if len(p.general.lengths) > 0 && p.general.lengths[0] == -1 {
		return false
	}
	return containsLength(p.localLengths, n) || containsLength(p.general.lengths, n)
}

// splitCallingCode is libphonenumber's extractCountryCode: the shortest
// prefix of up to three digits, not starting with 0, that is a calling code
// it knows; 0 when there is none.
func splitCallingCode(digits string) (int, string) {
	if digits == "" || digits[0] == '0' {
		return 0, ""
	}
	for i := 1; i <= maxCallingDigits && i <= len(digits); i++ {
		cc, err := strconv.Atoi(digits[:i])
		if err != nil {
			return 0, ""
		}
		if phonenumbers.GetSupportedCallingCodes()[cc] {
			return cc, digits[i:]
		}
	}
	return 0, ""
}

// setLeadingZeros is libphonenumber's setItalianLeadingZerosForPhoneNumber:
// national numbers starting with 0 keep their zeros beside the integer.
func setLeadingZeros(national string, pn *phonenumbers.PhoneNumber) {
	if len(national) < 2 || national[0] != '0' {
		return
	}
	yes := true
	pn.ItalianLeadingZero = &yes
	zeros := 1
	for zeros < len(national)-1 && national[zeros] == '0' {
		zeros++
	}
	if zeros != 1 {
		z := int32(zeros)
		pn.NumberOfLeadingZeros = &z
	}
}
