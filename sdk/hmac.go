package sdk

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"time"
)

// VerifyHMAC reports whether signature is the HMAC of message keyed by key
// with the hash newHash makes (sha256.New, sha1.New), written in hex
// (either case) or base64 (standard or URL alphabet, padded or not), as
// upstreams sign their callbacks. The comparison takes the same time
// wherever the signatures differ. Strip a scheme prefix such as "sha256="
// first, and put in message exactly what the upstream signs (often a
// timestamp and the raw body; see CheckTimestamp).
func VerifyHMAC(newHash func() hash.Hash, key, message []byte, signature string) bool {
	if len(key) == 0 {
		return false // an unset secret must not accept what anyone can compute
	}
	mac := hmac.New(newHash, key)
	mac.Write(message)
	want := mac.Sum(nil)
	for _, got := range signatureBytes(strings.TrimSpace(signature), len(want)) {
		if hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// signatureBytes decodes signature in each encoding that yields size bytes.
func signatureBytes(signature string, size int) [][]byte {
	var out [][]byte
	if len(signature) == 2*size {
		if b, err := hex.DecodeString(signature); err == nil {
			out = append(out, b)
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(signature); err == nil && len(b) == size {
			out = append(out, b)
		}
	}
	return out
}

// ErrStaleTimestamp is wrapped by CheckTimestamp's error for a timestamp
// too far from now: a replayed or badly delayed callback.
var ErrStaleTimestamp = errors.New("timestamp outside the accepted window")

// CheckTimestamp checks a signed callback's timestamp, given in Unix
// seconds (or RFC 3339), against now: it must lie within tolerance either
// side, so a captured request cannot be replayed later. A number too large
// for seconds (milliseconds) is refused with an error that says so. Verify
// the signature over the timestamp too, or the check proves nothing.
func CheckTimestamp(ts string, now time.Time, tolerance time.Duration) error {
	ts = strings.TrimSpace(ts)
	var at time.Time
	if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
		// Seconds reach 10^12 only in the year 33658; a number this large
		// is milliseconds (or finer), which many upstreams send.
		if n >= 1e12 || n <= -1e12 {
			return fmt.Errorf("timestamp %q is too large for Unix seconds; if the upstream sends milliseconds, divide by 1000 first", ts)
		}
		at = time.Unix(n, 0)
	} else if t, err := time.Parse(time.RFC3339, ts); err == nil {
		at = t
	} else {
		return fmt.Errorf("timestamp %q is neither Unix seconds nor RFC 3339", ts)
	}
	if skew := now.Sub(at); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: %s is %s from now, more than %s", ErrStaleTimestamp, at.UTC().Format(time.RFC3339), skew.Round(time.Second), tolerance)
	}
	return nil
}
