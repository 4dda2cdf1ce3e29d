package otpcode_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/otpcode"
)

func TestExtract(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"arabic-indic digits", "رمز التحقق ٤٨٢٠١٩", "482019"},
		{"persian digits", "کد تایید: ۵۰۳۹۱۷", "503917"},
		{"burmese digits", "အတည်ပြုကုဒ် ၇၀၂၉၁၃", "702913"},
		{"devanagari digits", "आपका ओटीपी ७२०३ है", "7203"},
		{"thai digits", "รหัสยืนยัน ๗๑๓๓๐๕", "713305"},
		{"full-width digits", "验证码：５０３８２１", "503821"},
		{"bengali digits", "আপনার কোড ৪৪১০", "4410"},
		{"grouped with a dash", "Your code: 381-204", "381204"},
		{"grouped with a space", "Your code: 381 204", "381204"},
		{"service prefix", "G-123456 is your Google verification code.", "123456"},
		{"alphanumeric", "Your verification code is A1B2C3", "A1B2C3"},
		{"control characters around", "\x00\x07Your code\x1b is 482019\x7f", "482019"},
		{"line breaks", "Acme\r\nYour code:\r\n4821", "4821"},
		{"invalid UTF-8", "Your code \xff\xfe is 482019", "482019"},
		{"code after the first 2 KiB", strings.Repeat("Welcome to Acme. ", 130) + "Your code is 482019", ""},
		{"phone number only", "Call +1 415 555 2671", ""},
		{"date only", "Due 2026-12-15", ""},
		{"amount with a code word", "Your code bought $1204.50 of credit", ""},
		{"masked card", "Your PIN for card XX4411 was changed", ""},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := otpcode.Extract(tc.text)
			if tc.want == "" {
				if ok {
					t.Errorf("Extract(%q) = %q, want no code", tc.text, got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Errorf("Extract(%q) = %q, %v; want %q", tc.text, got, ok, tc.want)
			}
		})
	}
}

// A hostile text costs no more than its first 2 KiB and never produces a
// code from digits that are not one.
func TestExtractHostileText(t *testing.T) {
	texts := []string{
		strings.Repeat("1234567890", 1024),
		strings.Repeat("code ", 2048),
		strings.Repeat("٤", 5000),
		strings.Repeat("\x00", 10240),
		strings.Repeat("code 12", 1500) + "3456",
		strings.Repeat("é", 5000) + " code 482019",
	}
	for i, text := range texts {
		if got, ok := otpcode.Extract(text); ok {
			t.Errorf("text %d (%d bytes): got code %q, want none", i, len(text), got)
		}
	}
}

func TestPatterns(t *testing.T) {
	e, err := otpcode.New(
		otpcode.Pattern{Sender: "AcmeBank", Regexp: regexp.MustCompile(`PIN ([0-9]{4})`)},
		otpcode.Pattern{Regexp: regexp.MustCompile(`word [a-z]+-[a-z]+`)},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, sender, text, want string
	}{
		{"sender pattern", "acmebank", "Your PIN 4821, reference 558201", "4821"},
		{"sender pattern on folded digits", "AcmeBank", "PIN ٤٨٢١", "4821"},
		{"pattern of another sender is skipped", "Other", "Your PIN 4821, code 558201", "558201"},
		{"pattern without a group takes the match", "Other", "your word blue-sky", "word blue-sky"},
		{"built-in rules after patterns", "AcmeBank", "Your code is 771203", "771203"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := e.Extract(tc.text, tc.sender)
			if !ok || got != tc.want {
				t.Errorf("Extract(%q, %q) = %q, %v; want %q", tc.text, tc.sender, got, ok, tc.want)
			}
		})
	}
}

func TestNewRefusesUnclearPatterns(t *testing.T) {
	tests := []struct {
		name    string
		pattern otpcode.Pattern
		wantErr string
	}{
		{"no expression", otpcode.Pattern{Sender: "Acme"}, "no regular expression"},
		{"two groups", otpcode.Pattern{Regexp: regexp.MustCompile(`(PIN|code) ([0-9]+)`)}, "2 capture groups"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := otpcode.New(tc.pattern)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New() error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
