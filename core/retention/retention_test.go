package retention_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rounds is the store, noting the retention each Prune was given and
// signalling each round.
type rounds struct {
	*store.Store
	mu     sync.Mutex
	forgot int
	pruned []retention.Policy
	round  chan struct{}
}

func (r *rounds) ForgetExpired(ctx context.Context) error {
	r.mu.Lock()
	r.forgot++
	r.mu.Unlock()
	return r.Store.ForgetExpired(ctx)
}

func (r *rounds) Prune(ctx context.Context, ret retention.Policy) (retention.Pruned, error) {
	p, err := r.Store.Prune(ctx, ret)
	r.mu.Lock()
	r.pruned = append(r.pruned, ret)
	r.mu.Unlock()
	select {
	case r.round <- struct{}{}:
	default:
	}
	return p, err
}

// Run forgets and prunes with the configured retention every interval, and
// stops with its context.
func TestRunForgetsEveryInterval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		r := &rounds{Store: s, round: make(chan struct{}, 1)}
		ret := retention.Policy{Webhooks: time.Hour, ProcessedEvents: 2 * time.Hour}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			retention.Run(ctx, r, retention.Options{Interval: time.Millisecond, Policy: ret})
		}()
		for range 2 {
			select {
			case <-r.round:
			case <-time.After(10 * time.Second):
				t.Fatal("no round within 10s")
			}
		}
		cancel()
		<-done
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.forgot < 2 || len(r.pruned) < 2 || r.pruned[0] != ret {
			t.Fatalf("forgot %d times, pruned with %v; want at least two rounds with %v", r.forgot, r.pruned, ret)
		}
	})
}
