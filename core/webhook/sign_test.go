package webhook

import (
	"fmt"
	"sync"
	"testing"
)

// TestSignerSignsAsSign holds the signer's reused HMAC states to Sign's
// signatures: several secrets, reused in turn and from several goroutines,
// and a secret kept again after the signer started over.
func TestSignerSignsAsSign(t *testing.T) {
	var s signer
	secrets := []string{"whsec_a", "whsec_b", "", "whsec_" + string(make([]byte, 100))}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				secret := secrets[(i+g)%len(secrets)]
				ts := int64(1700000000 + i)
				body := fmt.Appendf(nil, `{"id":"evt_%d_%d"}`, g, i)
				if got, want := s.sign(secret, ts, body), Sign(secret, ts, body); got != want {
					t.Errorf("sign(%q, %d) = %s, Sign %s", secret, ts, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range maxSigners + 1 {
		s.sign(fmt.Sprint("whsec_", i), 1, nil)
	}
	if n := len(s.byKey); n > maxSigners {
		t.Errorf("the signer keeps %d secrets, more than %d", n, maxSigners)
	}
	if got, want := s.sign("whsec_a", 1, []byte("{}")), Sign("whsec_a", 1, []byte("{}")); got != want {
		t.Errorf("after starting over: %s, Sign %s", got, want)
	}
}

// BenchmarkSign is signing one webhook body with a fresh HMAC (Sign) and
// with the deliverer's kept states.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"id":"evt_0123456789","type":"message.delivered","created_at":"2026-12-07T11:00:00Z","data":{"message_id":"msg_0123456789","to":"+4915123000000","status":"delivered"}}`)
	b.Run("Sign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Sign("whsec_0123456789abcdef", 1700000000, body)
		}
	})
	b.Run("signer", func(b *testing.B) {
		b.ReportAllocs()
		var s signer
		for b.Loop() {
			s.sign("whsec_0123456789abcdef", 1700000000, body)
		}
	})
}
