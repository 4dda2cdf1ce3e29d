package money

import (
	"encoding/json"
	"testing"
)

func TestParseAndString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Amount
		out  string
	}{
		{"12.5", 12_500_000, "12.5"},
		{"-3", -3 * Unit, "-3"},
		{"0.000125", 125, "0.000125"},
		{"+.5", 500_000, "0.5"},
		{"0", 0, "0"},
		{"-0.1", -100_000, "-0.1"},
	} {
		got, err := Parse(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			continue
		}
		if got.String() != tc.out {
			t.Errorf("%d.String() = %q, want %q", got, got.String(), tc.out)
		}
	}
	for _, bad := range []string{"", "1.", "abc", "1.0000001", "1e3", "--1", "1.-2", "99999999999999999999"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

func TestFromFloatIsExactForPrices(t *testing.T) {
	// 0.1 + 0.2 is not 0.3 in floats; the amounts are.
	a, _ := FromFloat(0.1)
	b, _ := FromFloat(0.2)
	c, _ := FromFloat(0.3)
	if a+b != c {
		t.Fatalf("%s + %s = %s, want %s", a, b, a+b, c)
	}
	if p, _ := FromFloat(0.0075); p*3 != 22_500 {
		t.Fatalf("3 segments at 0.0075 = %s, want 0.0225", p*3)
	}
}

func TestJSON(t *testing.T) {
	var v struct{ A Amount }
	if err := json.Unmarshal([]byte(`{"A": 10.25}`), &v); err != nil || v.A != 10_250_000 {
		t.Fatalf("unmarshal = %d, %v", v.A, err)
	}
	if err := json.Unmarshal([]byte(`{"A": 0.0000001}`), &v); err == nil {
		t.Fatal("seven decimals accepted")
	}
	b, _ := json.Marshal(struct{ A Amount }{-1_500_000})
	if string(b) != `{"A":-1.5}` {
		t.Fatalf("marshal = %s", b)
	}
}
