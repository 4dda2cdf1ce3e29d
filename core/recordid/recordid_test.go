package recordid_test

import (
	"regexp"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/recordid"
)

func TestNewIsPrefixedRandomHex(t *testing.T) {
	shape := regexp.MustCompile(`^msg_[0-9a-f]{24}$`)
	a, b := recordid.New("msg_"), recordid.New("msg_")
	if !shape.MatchString(a) || !shape.MatchString(b) {
		t.Fatalf("ids %q, %q: want msg_ and 24 hex digits", a, b)
	}
	if a == b {
		t.Fatalf("two ids are both %q", a)
	}
}

func TestOrderedSortsBySecondAndKeepsTheShape(t *testing.T) {
	shape := regexp.MustCompile(`^msg_[0-9a-f]{24}$`)
	base := time.Date(2026, 12, 7, 17, 0, 0, 0, time.UTC)
	tests := []struct {
		name           string
		earlier, later time.Time
	}{
		{"next second", base, base.Add(time.Second)},
		{"next day", base, base.Add(24 * time.Hour)},
		{"same second, later nanosecond", base, base.Add(999 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := recordid.Ordered("msg_", tt.earlier), recordid.Ordered("msg_", tt.later)
			if !shape.MatchString(a) || !shape.MatchString(b) {
				t.Fatalf("ids %q, %q: want msg_ and 24 hex digits", a, b)
			}
			if a == b {
				t.Fatalf("two ids are both %q", a)
			}
			sameSecond := tt.earlier.Unix() == tt.later.Unix()
			if got := a[:12] == b[:12]; got != sameSecond {
				t.Fatalf("ids %q, %q share their time digits: %v, want %v", a, b, got, sameSecond)
			}
			if !sameSecond && a >= b {
				t.Fatalf("id %q of %s does not sort before %q of %s", a, tt.earlier, b, tt.later)
			}
		})
	}
}
