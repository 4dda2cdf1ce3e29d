package numbers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/numbers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		format, e164, cc, want string
	}{
		{"", "+15017122662", "1", "+15017122662"},
		{"full", "+959123456789", "95", "+959123456789"},
		{"national", "+959123456789", "95", "9123456789"},
		{"remove_plus", "+959123456789", "95", "959123456789"},
		{"national", "55555", "1", "55555"}, // a short code has no calling code to drop
	} {
		f, err := numbers.ParseFormat(tc.format)
		if err != nil {
			t.Fatalf("ParseFormat(%q): %v", tc.format, err)
		}
		if got := f.Apply(tc.e164, tc.cc); got != tc.want {
			t.Errorf("%s of %s = %q, want %q", tc.format, tc.e164, got, tc.want)
		}
	}
	if _, err := numbers.ParseFormat("e164"); err == nil || err.Error() != `number_format must be one of full, national, remove_plus; got "e164"` {
		t.Errorf("ParseFormat(e164): %v", err)
	}
}

// Country ids come from the code alone, so they never change.
func TestCountryIDs(t *testing.T) {
	for code, id := range map[string]int{"AA": 1, "US": 539, "MM": 325, "ZZ": 676, "us": 539, "U": 0, "U1": 0} {
		if got := numbers.CountryID(code); got != id {
			t.Errorf("CountryID(%q) = %d, want %d", code, got, id)
		}
		if id == 0 {
			continue
		}
		if back, ok := numbers.CountryCode(id); !ok || back != upper(code) {
			t.Errorf("CountryCode(%d) = %q, %v", id, back, ok)
		}
	}
	if n := numbers.CountryName("MM"); n != "Myanmar (Burma)" {
		t.Errorf("CountryName(MM) = %q", n)
	}
	if p := numbers.PhoneCode("MM"); p != "95" {
		t.Errorf("PhoneCode(MM) = %q", p)
	}
}

func TestOwnerOf(t *testing.T) {
	for state, want := range map[numbers.State]string{numbers.Assigned: "acc_1", numbers.Quarantined: "acc_1", numbers.Available: "", numbers.Retired: ""} {
		if got := numbers.OwnerOf(numbers.Number{State: state, Holder: "acc_1"}); got != want {
			t.Errorf("owner of a number %s = %q, want %q", state, got, want)
		}
	}
}

type sweeps struct {
	mu     sync.Mutex
	policy numbers.Policy
	rounds chan struct{}
}

func (s *sweeps) SweepNumbers(_ context.Context, _ time.Time, p numbers.Policy) (numbers.Swept, error) {
	s.mu.Lock()
	s.policy = p
	s.mu.Unlock()
	select {
	case s.rounds <- struct{}{}:
	default:
	}
	return numbers.Swept{Ended: 1}, nil
}

// Sweep sweeps at once, with the policy's defaults, and stops with its
// context (goleak checks that nothing is left running).
func TestSweepRunsAndStops(t *testing.T) {
	st := &sweeps{rounds: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		numbers.Sweep(ctx, st, numbers.SweepOptions{Every: time.Hour})
	}()
	<-st.rounds
	cancel()
	<-done
	if st.policy.Lease != numbers.DefaultLease || st.policy.Quarantine != 0 {
		t.Errorf("policy %+v, want the defaults filled in", st.policy)
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
