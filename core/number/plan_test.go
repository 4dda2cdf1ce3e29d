package number

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// referenceParse is parse as it was before plan.go: every number through
// libphonenumber's Parse, GetRegionCodeForNumber and GetNumberType. The
// fast path must give exactly its answers.
func referenceParse(e164ish string) (Number, string) {
	pn, err := phonenumbers.Parse(e164ish, phonenumbers.UNKNOWN_REGION)
	if err != nil {
		return Number{}, err.Error()
	}
	if !phonenumbers.IsPossibleNumber(pn) {
		return Number{}, "not a possible number for its country"
	}
	cc := int(pn.GetCountryCode())
	region := phonenumbers.GetRegionCodeForNumber(pn)
	if region == "" || region == phonenumbers.UNKNOWN_REGION {
		region = phonenumbers.GetRegionCodeForCountryCode(cc)
	}
	if region == phonenumbers.UNKNOWN_REGION || region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		region = ""
	}
	operator, _ := phonenumbers.GetCarrierForNumber(pn, "en")
	return Number{
		E164:        phonenumbers.Format(pn, phonenumbers.E164),
		Country:     region,
		CallingCode: strconv.Itoa(cc),
		Operator:    operator,
		Type:        typeNames[phonenumbers.GetNumberType(pn)],
	}, ""
}

var exampleTypes = []phonenumbers.PhoneNumberType{
	phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE, phonenumbers.PREMIUM_RATE,
	phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
	phonenumbers.UAN, phonenumbers.VOICEMAIL,
}

// corpus is numbers in the cleaned form parse takes: every example number
// libphonenumber has (each region, each type, the non-geographic entities),
// each also with a national prefix, a digit more, a digit less and its
// digits varied, and random digits after every calling code.
func corpus(tb testing.TB) []string {
	tb.Helper()
	var examples []*phonenumbers.PhoneNumber
	for region := range phonenumbers.GetSupportedRegions() {
		for _, t := range exampleTypes {
			if pn := phonenumbers.GetExampleNumberForType(region, t); pn != nil {
				examples = append(examples, pn)
			}
		}
	}
	for cc := range phonenumbers.GetSupportedGlobalNetworkCallingCodes() {
		if pn := phonenumbers.GetExampleNumberForNonGeoEntity(cc); pn != nil {
			examples = append(examples, pn)
		}
	}
	if len(examples) < 1000 {
		tb.Fatalf("only %d example numbers: libphonenumber's metadata did not load", len(examples))
	}
	rng := rand.New(rand.NewPCG(20, 26))
	var out []string
	for _, pn := range examples {
		cc := strconv.Itoa(int(pn.GetCountryCode()))
		nsn := phonenumbers.GetNationalSignificantNumber(pn)
		region := phonenumbers.GetRegionCodeForCountryCode(int(pn.GetCountryCode()))
		out = append(out,
			"+"+cc+nsn,
			"+"+cc+"0"+nsn,
			"+"+cc+phonenumbers.GetNddPrefixForRegion(region, true)+nsn,
			"+"+cc+nsn+strconv.Itoa(rng.IntN(10)),
			"+"+cc+nsn[:len(nsn)-1],
			"+"+cc+strconv.Itoa(rng.IntN(10))+nsn[1:],
			"+"+cc+nsn[:len(nsn)/2]+randomDigits(rng, len(nsn)-len(nsn)/2),
		)
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		for range 20 {
			out = append(out, "+"+strconv.Itoa(cc)+randomDigits(rng, 1+rng.IntN(18)))
		}
	}
	return append(out,
		"+959123456789", "+14155552671", "+447911123456", "+447400123456", "+18005551234",
		"+80012345678", "+959791234567", "+4915123000000", "+390612345678", "+3900612345678",
		"+39000", "+3900", "+12", "+123", "+1234", "+99912345678", "+0123456789", "+5491123456789",
		"+54911234567890", "+541123456789", "+52155512345678", "+7"+"9123456789", "+79123456789012345678",
	)
}

func randomDigits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}

// TestParseMatchesLibphonenumber holds parse to the answers of
// libphonenumber's own parse and lookups, number by number.
func TestParseMatchesLibphonenumber(t *testing.T) {
	nums := corpus(t)
	fast := 0
	for _, raw := range nums {
		got, gotReason := parse(raw)
		want, wantReason := referenceParse(raw)
		if got != want || gotReason != wantReason {
			t.Errorf("parse(%q) = %+v %q, libphonenumber %+v %q", raw, got, gotReason, want, wantReason)
		}
		if _, _, ok := parseInternational(raw); ok {
			fast++
		}
	}
	// Most example numbers carry no national prefix: if few took the fast
	// path it has stopped applying and the comparison above proves little.
	t.Logf("%d numbers, %d on the fast path", len(nums), fast)
	if fast < len(nums)/3 {
		t.Errorf("only %d of %d numbers took the fast path", fast, len(nums))
	}
}

// TestParseInternationalMatchesParse holds the fast path to the
// PhoneNumber libphonenumber's Parse builds, field by field.
func TestParseInternationalMatchesParse(t *testing.T) {
	for _, raw := range corpus(t) {
		got, nsn, ok := parseInternational(raw)
		if !ok {
			continue
		}
		want, err := phonenumbers.Parse(raw, phonenumbers.UNKNOWN_REGION)
		if err != nil {
			t.Errorf("parseInternational(%q) took the fast path; Parse failed: %v", raw, err)
			continue
		}
		if got.GetCountryCode() != want.GetCountryCode() || got.GetNationalNumber() != want.GetNationalNumber() ||
			(got.ItalianLeadingZero == nil) != (want.ItalianLeadingZero == nil) || got.GetItalianLeadingZero() != want.GetItalianLeadingZero() ||
			(got.NumberOfLeadingZeros == nil) != (want.NumberOfLeadingZeros == nil) || got.GetNumberOfLeadingZeros() != want.GetNumberOfLeadingZeros() ||
			want.Extension != nil || want.RawInput != nil || want.CountryCodeSource != nil || want.PreferredDomesticCarrierCode != nil {
			t.Errorf("parseInternational(%q) = %v, Parse %v", raw, got, want)
		}
		if w := phonenumbers.GetNationalSignificantNumber(want); nsn != w {
			t.Errorf("parseInternational(%q) national significant number %q, libphonenumber %q", raw, nsn, w)
		}
	}
}

// BenchmarkFacts is one distinct recipient's facts, as in a bulk send where
// the cache never hits: the libphonenumber path against parse.
func BenchmarkFacts(b *testing.B) {
	nums := make([]string, 4096)
	for i := range nums {
		nums[i] = "+" + strconv.Itoa(4915123000000+i)
	}
	for _, bc := range []struct {
		name string
		f    func(string) (Number, string)
	}{{"libphonenumber", referenceParse}, {"parse", parse}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, reason := bc.f(nums[i%len(nums)]); reason != "" {
					b.Fatal(reason)
				}
				i++
			}
		})
	}
}
