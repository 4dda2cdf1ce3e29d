package segment_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/gsm7/charset"

	"github.com/smsrouter/smsrouter/core/segment"
)

var cases = []struct {
	name     string
	text     string
	enc      string
	segments int
}{
	{"empty", "", segment.GSM7, 1},
	{"hello", "hello", segment.GSM7, 1},
	{"160 plain", strings.Repeat("a", 160), segment.GSM7, 1},
	{"161 plain", strings.Repeat("a", 161), segment.GSM7, 2},
	{"306 plain", strings.Repeat("a", 306), segment.GSM7, 2},
	{"307 plain", strings.Repeat("a", 307), segment.GSM7, 3},
	{"80 euro is 160 septets", strings.Repeat("€", 80), segment.GSM7, 1},
	// 162 septets: parts of 152 + 10 because an ESC pair never straddles parts.
	{"81 euro", strings.Repeat("€", 81), segment.GSM7, 2},
	{"152 plain then euro", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), segment.GSM7, 3},
	{"extension table", "^{}\\[~]|€\f", segment.GSM7, 1},
	{"greek capitals", "ΔΦΓΛΩΠΨΣΘΞ", segment.GSM7, 1},
	{"C cedilla capital", "Ç", segment.GSM7, 1},
	{"c cedilla lowercase", "ç", segment.UCS2, 1},
	{"backtick", "`", segment.UCS2, 1},
	{"curly quotes", "“hi”", segment.UCS2, 1},
	{"en dash", "a–b", segment.UCS2, 1},
	{"non-breaking space", "a\u00a0b", segment.UCS2, 1},
	{"raw escape", "a\x1bb", segment.UCS2, 1},
	{"70 cyrillic", strings.Repeat("ж", 70), segment.UCS2, 1},
	{"71 cyrillic", strings.Repeat("ж", 71), segment.UCS2, 2},
	{"134 cyrillic", strings.Repeat("ж", 134), segment.UCS2, 2},
	{"135 cyrillic", strings.Repeat("ж", 135), segment.UCS2, 3},
	{"35 emoji", strings.Repeat("😀", 35), segment.UCS2, 1},
	// 72 UTF-16 units: parts of 66 + 6 because a surrogate pair never splits.
	{"36 emoji", strings.Repeat("😀", 36), segment.UCS2, 2},
	{"one accent forces the whole text", strings.Repeat("a", 100) + "á", segment.UCS2, 2},
}

func TestCount(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc, n := segment.Count(tc.text)
			if enc != tc.enc || n != tc.segments {
				t.Errorf("Count(%q...) = %s, %d; want %s, %d", head(tc.text), enc, n, tc.enc, tc.segments)
			}
		})
	}
}

// TestCountAgreesWithEncoder checks the counts against a real GSM 03.40
// encoder, so the table above is not the only source of truth.
func TestCountAgreesWithEncoder(t *testing.T) {
	for _, tc := range cases {
		if tc.text == "" || strings.ContainsRune(tc.text, 0x1b) {
			continue // the encoder sends no PDU for empty text and treats ESC as a character
		}
		t.Run(tc.name, func(t *testing.T) {
			pdus, err := sms.Encode([]byte(tc.text))
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			_, n := segment.Count(tc.text)
			if len(pdus) != n {
				t.Errorf("encoder made %d parts, Count says %d", len(pdus), n)
			}
		})
	}
}

// TestTableMatchesCharset compares every rune of the Basic Multilingual Plane
// against the default GSM 03.38 tables.
func TestTableMatchesCharset(t *testing.T) {
	basic, ext := charset.DefaultEncoder(), charset.DefaultExtEncoder()
	for r := rune(0); r < 0x10000; r++ {
		if r == 0x1b || !utf8.ValidRune(r) {
			continue
		}
		want := segment.UCS2
		if _, ok := basic[r]; ok {
			want = segment.GSM7
		} else if _, ok := ext[r]; ok {
			want = segment.GSM7
		}
		if enc, _ := segment.Count(string(r)); enc != want {
			t.Errorf("rune %U %q: Count says %s, charset says %s", r, r, enc, want)
		}
	}
}

func head(s string) string {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

func BenchmarkCount(b *testing.B) {
	texts := map[string]string{
		"gsm7-short": "Your code is 123456",
		"gsm7-long":  strings.Repeat("Hello world {x} ", 30),
		"ucs2-long":  strings.Repeat("Привет мир 😀 ", 30),
	}
	for name, text := range texts {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				segment.Count(text)
			}
		})
	}
}

func TestNonGSM(t *testing.T) {
	tests := []struct {
		name, text string
		max        int
		want       []string
	}{
		{"all GSM", "Hello €uro [ok] äöü", 20, nil},
		{"curly quotes and emoji once each", "It’s “fine” 👍 it’s", 20, []string{"’", "“", "”", "👍"}},
		{"capped", "ąćęłńóśźż", 3, []string{"ą", "ć", "ę"}},
		{"raw escape", "a\x1bb", 20, []string{"\x1b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := segment.NonGSM(tc.text, tc.max)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("NonGSM(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}
