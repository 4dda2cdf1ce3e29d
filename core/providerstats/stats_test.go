package providerstats_test

import (
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/providerstats"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestFigures(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	tr := providerstats.New(c.now)

	if f := tr.Figures("none"); f.SuccessRate != 1 || f.Attempts != 0 || f.Latency != 0 {
		t.Fatalf("untried provider: %+v, want success 1 and no attempts", f)
	}
	for range 3 {
		tr.Observe("a", true, 10*time.Millisecond)
	}
	tr.Observe("a", false, 30*time.Millisecond)
	tr.Observe("a", false, 0) // not reached: counts, but is not timed
	f := tr.Figures("a")
	if f.Attempts != 5 || f.SuccessRate != 0.6 || f.Latency != 15*time.Millisecond {
		t.Fatalf("figures %+v, want 5 attempts, 0.6, 15ms", f)
	}
	if g := tr.Figures("b"); g.Attempts != 0 {
		t.Fatalf("another provider saw %d attempts", g.Attempts)
	}

	c.add(providerstats.Window / 2)
	tr.Observe("a", true, 0)
	if f := tr.Figures("a"); f.Attempts != 6 {
		t.Fatalf("half a window later: %d attempts, want 6", f.Attempts)
	}
	c.add(providerstats.Window/2 + time.Second)
	if f := tr.Figures("a"); f.Attempts != 1 || f.SuccessRate != 1 {
		t.Fatalf("after the window slid past the failures: %+v, want only the later success", f)
	}
	c.add(2 * providerstats.Window)
	if f := tr.Figures("a"); f.Attempts != 0 || f.SuccessRate != 1 {
		t.Fatalf("after a quiet window: %+v, want no attempts", f)
	}
}

func TestConcurrentUse(t *testing.T) {
	tr := providerstats.New(nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 1000 {
				tr.Observe("p", i%2 == 0, time.Millisecond)
				_ = tr.Figures("p")
			}
		})
	}
	wg.Wait()
	if f := tr.Figures("p"); f.Attempts != 8000 || f.SuccessRate != 0.5 {
		t.Fatalf("%+v, want 8000 attempts at 0.5", f)
	}
}
