package number_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/core/number"
)

func TestParse(t *testing.T) {
	tests := []struct {
		raw  string
		want number.Number
	}{
		// Possible but not valid per libphonenumber: must still be accepted.
		{"+959123456789", number.Number{E164: "+959123456789", Country: "MM", CallingCode: "95", Type: "unknown"}},
		{"+14155552671", number.Number{E164: "+14155552671", Country: "US", CallingCode: "1", Type: "fixed_line_or_mobile"}},
		// libphonenumber's data puts 07911 12xxxx on Guernsey's JT network, not
		// mainland GB: Country follows the number's data, not its calling code.
		{"+447911123456", number.Number{E164: "+447911123456", Country: "GG", CallingCode: "44", Operator: "JT", Type: "mobile"}},
		{"+44 7911 123456", number.Number{E164: "+447911123456", Country: "GG", CallingCode: "44", Operator: "JT", Type: "mobile"}},
		{"+447400123456", number.Number{E164: "+447400123456", Country: "GB", CallingCode: "44", Operator: "Three", Type: "mobile"}},
		{" +44 (7400) 123-456 ", number.Number{E164: "+447400123456", Country: "GB", CallingCode: "44", Operator: "Three", Type: "mobile"}},
		{"+18005551234", number.Number{E164: "+18005551234", Country: "US", CallingCode: "1", Type: "toll_free"}},
		// Non-geographic: no ISO country.
		{"+80012345678", number.Number{E164: "+80012345678", CallingCode: "800", Type: "toll_free"}},
		{"+959791234567", number.Number{E164: "+959791234567", Country: "MM", CallingCode: "95", Operator: "Telenor", Type: "mobile"}},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := number.Parse(tc.raw)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.raw, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) =\n %+v\nwant\n %+v", tc.raw, got, tc.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	for _, raw := range []string{
		"959123456789", // no leading +
		"+1234",        // too short for +1
		"+44abc7911123456",
		"+1-800-FLOWERS", // keypad letters are not digits
		"hello",
		"",
		"+",
		"++447911123456",
		"+447911123456 ext. 12",
		"+99912345678", // unassigned calling code
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := number.Parse(raw)
			if !errors.Is(err, number.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %v, want ErrInvalid", raw, err)
			}
			if err.Error() != "Invalid phone number format" {
				t.Errorf("Error() = %q", err.Error())
			}
			var ie *number.InvalidError
			if !errors.As(err, &ie) || ie.Reason == "" || ie.Input != raw {
				t.Errorf("want *InvalidError with input and reason, got %#v", err)
			}
		})
	}
}

func TestParserCacheIsBounded(t *testing.T) {
	p := number.NewParser(10)
	for i := range 100 {
		if _, err := p.Parse(fmt.Sprintf("+4474001234%02d", i)); err != nil {
			t.Fatal(err)
		}
		if n := number.CacheLen(p); n > 10 {
			t.Fatalf("cache holds %d entries after %d parses, cap 10", n, i+1)
		}
	}
	// A hit must return the same answer as a miss.
	first, _ := p.Parse("+447911123456")
	again, _ := p.Parse("+44 7911 123456")
	if first != again {
		t.Errorf("cached %+v != fresh %+v", again, first)
	}
}

func TestParserConcurrent(t *testing.T) {
	p := number.NewParser(8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				raw := fmt.Sprintf("+4474001234%02d", (i+g)%20)
				n, err := p.Parse(raw)
				if err != nil || n.Country != "GB" {
					t.Errorf("Parse(%q) = %+v, %v", raw, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkParse(b *testing.B) {
	nums := []string{"+959123456789", "+14155552671", "+447911123456", "+4915112345678"}
	for _, bc := range []struct {
		name string
		p    *number.Parser
	}{
		{"uncached", number.NewParser(0)},
		{"cached", number.NewParser(number.DefaultCacheSize)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := bc.p.Parse(nums[i%len(nums)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
