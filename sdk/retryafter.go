package sdk

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ParseRetryAfter reads an HTTP Retry-After header (RFC 9110): a number of
// seconds ("120") or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT"),
// counted from now. A date in the past is 0. ok is false when the header
// is empty or neither form; the caller then picks its own wait. Cap the
// result: an upstream's header is not to be trusted with hours.
func ParseRetryAfter(header string, now time.Time) (d time.Duration, ok bool) {
	v := strings.TrimSpace(header)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 31); err == nil {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
