package core

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/routing"
)

// OTPWindow is the window the per-number OTP send limit counts over.
const OTPWindow = time.Hour

// ErrNoHealthyProvider means no provider the route offers can send now. A
// late one-time code is useless, so OTP sends are refused rather than
// queued.
var ErrNoHealthyProvider = errors.New("no healthy provider can send this message now")

func isNoRoute(err error) bool {
	var nr *routing.NoRouteError
	return errors.As(err, &nr)
}

// OTPTTL is how long a code can be verified.
func (s *Service) OTPTTL() time.Duration { return s.otp.TTL }

// SendOTP sends a fresh code to phone and returns how long it stays valid.
// The number's earlier pending code stops being valid. Errors: *InputError
// (bad number), *routing.NoRouteError, ErrNoHealthyProvider, and
// *account.RateLimitError when the number had its codes for the hour.
func (s *Service) SendOTP(ctx context.Context, accountID, phone string) (time.Duration, error) {
	num, err := number.Parse(phone)
	if err != nil {
		return 0, &InputError{"Invalid phone number format"}
	}
	code, err := newCode(s.otp.Length)
	if err != nil {
		return 0, fmt.Errorf("generate OTP: %w", err)
	}
	m, err := s.prepare(ctx, accountID, SendRequest{To: num.E164, Message: strings.ReplaceAll(s.otp.Template, "{code}", code), Kind: message.KindOTP})
	if err != nil {
		return 0, err
	}
	if !s.anyHealthy(m.Candidates()) {
		return 0, ErrNoHealthyProvider
	}
	// The stored text never shows the code: the store keeps it masked,
	// and the full text sealed only until the message is final.
	m.Mask = []string{code}
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return 0, fmt.Errorf("generate OTP salt: %w", err)
	}
	rec := intake.OTPCode{ID: recordid.New("otp_"), AccountID: accountID, Phone: num.E164, MessageID: m.ID,
		Salt: hex.EncodeToString(salt[:]), ExpiresAt: s.now().UTC().Add(s.otp.TTL)}
	rec.Hash = otpHash(rec.Salt, rec.Phone, code)
	// The message lives no longer than its code: delivering it later is
	// pointless.
	m.ExpiresAt = rec.ExpiresAt
	if err := s.store.CreateOTP(ctx, rec, m, s.api.OTPPerHour, OTPWindow); err != nil {
		var rl *account.RateLimitError
		if errors.As(err, &rl) {
			return 0, rl
		}
		return 0, err
	}
	s.countAccepted(m)
	s.log.Debug("OTP accepted", "message_id", m.ID, "route", m.Route)
	if s.waker != nil {
		s.waker.Wake()
	}
	return s.otp.TTL, nil
}

// VerifyOTP reports whether code is the number's pending code. A code
// verifies once; every call counts against its attempts.
func (s *Service) VerifyOTP(ctx context.Context, accountID, phone, code string) (bool, error) {
	num, err := number.Parse(phone)
	if err != nil {
		return false, &InputError{"Invalid phone number format"}
	}
	attempts := s.api.OTPVerifyAttempts
	if attempts <= 0 {
		attempts = 3
	}
	return s.store.VerifyOTP(ctx, accountID, num.E164, attempts, func(c intake.OTPCode) bool {
		return subtle.ConstantTimeCompare([]byte(otpHash(c.Salt, c.Phone, code)), []byte(c.Hash)) == 1
	})
}

func (s *Service) anyHealthy(names []string) bool {
	if s.state == nil {
		return true
	}
	for _, n := range names {
		if s.state.ProviderState(n).Healthy {
			return true
		}
	}
	return false
}

// newCode returns n uniformly random decimal digits.
func newCode(n int) (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := rand.Int(rand.Reader, max)
	if err != nil {
		return "", err
	}
	d := v.String()
	return strings.Repeat("0", n-len(d)) + d, nil
}

// otpHash binds the code to its number and a per-code salt. Six digits are
// few enough to enumerate, so the hash keeps codes out of database dumps and
// logs rather than resisting a determined offline search; the short
// lifetime and the attempt limit are what protect them.
func otpHash(salt, phone, code string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + phone + "\x00" + code))
	return hex.EncodeToString(sum[:])
}
