package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/smsrouter/smsrouter/core/egress"
)

// Headers every webhook request carries.
const (
	HeaderSignature = "X-Signature"
	HeaderTimestamp = "X-Timestamp"
	HeaderEventID   = "X-Event-Id"
	HeaderEventType = "X-Event-Type"
)

// Sign returns the X-Signature of body sent at timestamp (Unix seconds):
// the hex HMAC-SHA256, keyed with the account's secret, of the timestamp in
// decimal, a dot, and the body.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature means a webhook's signature does not match its body.
var ErrBadSignature = errors.New("webhook signature does not match")

// Verify checks a received webhook the way an application should: the
// signature must match and the timestamp must be within tolerance of now,
// so that a captured request cannot be replayed later.
func Verify(secret, signature, timestamp string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q is not Unix seconds", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook timestamp %s is %s away from now, more than %s", time.Unix(ts, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// notPublic ends a refusal of an address a webhook URL resolved to.
const notPublic = egress.NotPublic
