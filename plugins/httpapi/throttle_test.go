package httpapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/httpapi"
	"github.com/smsrouter/smsrouter/plugins/httpapi/aggregatortest"
	"github.com/smsrouter/smsrouter/sdk"
)

// burstSize is how many sends are in flight when the aggregator starts
// answering 429: the 32 of the run that froze a provider for 5 min 57 s.
const burstSize = 32

// fakeClock is a settable clock for the provider's throttle.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// throttledBurst has burstSize sends in flight at once, all answered 429
// with retryAfter, and checks each was handed back temporary.
func throttledBurst(t *testing.T, srv *aggregatortest.Server, p *httpapi.Provider, retryAfter string) {
	t.Helper()
	before := srv.Requests(aggregatortest.OpSend)
	fails := make([]aggregatortest.Failure, burstSize)
	for i := range fails {
		fails[i] = aggregatortest.Failure{Status: http.StatusTooManyRequests, RetryAfter: retryAfter}
	}
	srv.FailNext(aggregatortest.OpSend, fails...)
	release := srv.Hold(aggregatortest.OpSend)
	defer release()
	results := make([][]sdk.SendResult, burstSize)
	errs := make([]error, burstSize)
	var wg sync.WaitGroup
	for i := range burstSize {
		wg.Go(func() {
			results[i], errs[i] = p.Send(t.Context(), msgs("burst", fmt.Sprintf("+3809893612%02d", i)))
		})
	}
	if err := srv.WaitRequests(t.Context(), aggregatortest.OpSend, before+burstSize); err != nil {
		release()
		wg.Wait()
		t.Fatalf("the burst never was in flight at once: %v", err)
	}
	release()
	wg.Wait()
	for i := range burstSize {
		if errs[i] != nil || len(results[i]) != 1 || results[i][0].Outcome != sdk.Temporary || results[i][0].Code != "429" {
			t.Fatalf("send %d of the burst = %+v, %v; want temporary 429", i, results[i], errs[i])
		}
	}
}

// heldBack sends once more and returns how long the provider says to wait,
// checking that nothing reached the aggregator meanwhile.
func heldBack(t *testing.T, srv *aggregatortest.Server, p *httpapi.Provider) time.Duration {
	t.Helper()
	before := srv.Requests(aggregatortest.OpSend)
	res, err := p.Send(t.Context(), msgs("after", "+380989361199"))
	if err != nil || len(res) != 1 || res[0].Outcome != sdk.Temporary || res[0].Code != "429" {
		t.Fatalf("send while throttled = %+v, %v; want temporary 429 without a request", res, err)
	}
	if n := srv.Requests(aggregatortest.OpSend) - before; n != 0 {
		t.Errorf("%d requests reached the aggregator while throttled, want 0", n)
	}
	return res[0].RetryAfter
}

// TestThrottleBurstIsOneStep is the regression test for a burst of 429s
// answering requests that were all in flight at once: it is one backoff
// step, not one per answer (32 answers used to mean 5 min 57 s of silence).
func TestThrottleBurstIsOneStep(t *testing.T) {
	// The provider's clock is an hour behind the wall clock, so a
	// Retry-After date read against the wall clock instead of the
	// provider's (it was, and the case flaked when the machine was slow)
	// fails every time.
	start := time.Now().Add(-time.Hour)
	tests := []struct {
		name       string
		overrides  string
		retryAfter string
		// wantMin and wantMax bound the wait after the first burst; the
		// second burst (after that wait) is checked only without Retry-After.
		wantMin, wantMax time.Duration
	}{
		{name: "without Retry-After one burst is the first step", wantMin: time.Second, wantMax: 1200 * time.Millisecond},
		{name: "Retry-After in seconds is honoured", retryAfter: "7", wantMin: 7 * time.Second, wantMax: 7 * time.Second},
		{name: "Retry-After as an HTTP date is honoured", retryAfter: start.Add(20 * time.Second).UTC().Format(http.TimeFormat), wantMin: 18 * time.Second, wantMax: 20 * time.Second},
		{name: "Retry-After is capped by default", retryAfter: "86400", wantMin: time.Minute, wantMax: time.Minute},
		{name: "Retry-After is capped by max_throttle_wait", overrides: `{"max_throttle_wait":"30s"}`, retryAfter: "86400", wantMin: 30 * time.Second, wantMax: 30 * time.Second},
		{name: "backoff is capped by max_throttle_wait", overrides: `{"max_throttle_wait":"1500ms"}`, wantMin: time.Second, wantMax: 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fake(t, aggregatortest.Options{})
			p := provider(t, settingsFor(t, "aggregator002", srv.URL, tt.overrides))
			clock := &fakeClock{now: start}
			httpapi.SetClock(p, clock.Now)

			throttledBurst(t, srv, p, tt.retryAfter)
			wait := heldBack(t, srv, p)
			if wait < tt.wantMin || wait > tt.wantMax {
				t.Fatalf("after one burst of %d 429s the provider waits %s, want %s to %s", burstSize, wait, tt.wantMin, tt.wantMax)
			}
			if tt.retryAfter != "" {
				return
			}

			clock.Advance(wait)
			throttledBurst(t, srv, p, "")
			wait = heldBack(t, srv, p)
			limit := time.Minute
			if tt.overrides != "" {
				limit = tt.wantMax // the cases without Retry-After that set max_throttle_wait want it
			}
			if lo, hi := min(2*time.Second, limit), min(2400*time.Millisecond, limit); wait < lo || wait > hi {
				t.Fatalf("after a second burst the provider waits %s, want the second step, %s to %s", wait, lo, hi)
			}

			clock.Advance(wait)
			sendOK(t, p, msgs("recovered", "+380989361198"))
			throttledBurst(t, srv, p, "")
			if wait = heldBack(t, srv, p); wait < time.Second || wait > 1200*time.Millisecond {
				t.Fatalf("after a success and a new burst the provider waits %s, want the first step again", wait)
			}
		})
	}
}
