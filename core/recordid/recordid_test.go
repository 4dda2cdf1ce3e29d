package recordid_test

import (
	"regexp"
	"testing"

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
