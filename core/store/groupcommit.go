package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// batchTimeout bounds one batch transaction, which runs on the committer's
// own context so that one caller going away cannot abort the others'
// commit.
const batchTimeout = 30 * time.Second

// groupCommit gathers items that arrive concurrently and stores each group
// with one call of commit, which is one transaction: the commit (an fsync)
// is the price of durability, and sharing it is what lets many callers be
// served per second. Each caller gets its own item's result.
type groupCommit[T any] struct {
	o BatcherOptions
	// weight is what an item counts against maxWeight (messages, events),
	// so that big items do not make one huge transaction.
	weight    func(T) int
	maxWeight int
	// commit stores items in one transaction: err fails all of them,
	// otherwise results[i] is item i's own outcome.
	commit func(ctx context.Context, items []T) (results []error, err error)
	// alone stores one item after Close.
	alone func(ctx context.Context, item T) error
	// ping reports whether the database answers; a batch that fails while
	// it does is split to find the member it failed for (see commitSplit).
	// nil means it always does.
	ping func(ctx context.Context) error
	log  hclog.Logger

	queue  chan *pendingItem[T]
	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type pendingItem[T any] struct {
	ctx    context.Context
	item   T
	result chan error
}

func (g *groupCommit[T]) start() {
	if g.o.MaxBatch <= 0 {
		g.o.MaxBatch = DefaultBatchSize
	}
	if g.o.Workers <= 0 {
		g.o.Workers = DefaultBatchWorkers
	}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.queue = make(chan *pendingItem[T], g.o.MaxBatch*g.o.Workers)
	for range g.o.Workers {
		g.wg.Go(g.work)
	}
}

// do stores item in the next batch and returns its own result. Once
// queued, the caller waits for the batch: returning early could report a
// failure for an item that is then committed.
func (g *groupCommit[T]) do(ctx context.Context, item T) error {
	p := &pendingItem[T]{ctx: ctx, item: item, result: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return g.alone(ctx, item)
	}
	select {
	case g.queue <- p:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	return <-p.result
}

// close stores what is queued, waits for the batches in flight and stops
// the workers.
func (g *groupCommit[T]) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.queue)
	}
	g.mu.Unlock()
	g.wg.Wait()
	g.cancel()
}

func (g *groupCommit[T]) work() {
	batch := make([]*pendingItem[T], 0, g.o.MaxBatch)
	for {
		first, ok := <-g.queue
		if !ok {
			return
		}
		batch = g.gather(append(batch[:0], first))
		g.store(batch)
	}
}

// gather adds what is queued, up to MaxBatch items or about maxWeight,
// waiting up to Linger for more when the queue runs dry.
func (g *groupCommit[T]) gather(batch []*pendingItem[T]) []*pendingItem[T] {
	var linger <-chan time.Time
	if g.o.Linger > 0 {
		t := time.NewTimer(g.o.Linger)
		defer t.Stop()
		linger = t.C
	}
	weight := 0
	for _, p := range batch {
		weight += g.weight(p.item)
	}
	for len(batch) < g.o.MaxBatch && weight < g.maxWeight {
		var p *pendingItem[T]
		var ok bool
		select {
		case p, ok = <-g.queue:
		default:
			if linger == nil {
				return batch
			}
			select {
			case p, ok = <-g.queue:
			case <-linger:
				return batch
			}
		}
		if !ok {
			return batch
		}
		batch = append(batch, p)
		weight += g.weight(p.item)
	}
	return batch
}

func (g *groupCommit[T]) store(batch []*pendingItem[T]) {
	// A caller that gave up before its batch started is not stored.
	live := batch[:0:0]
	items := make([]T, 0, len(batch))
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.result <- err
			continue
		}
		live = append(live, p)
		items = append(items, p.item)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(g.ctx, batchTimeout)
	defer cancel()
	for i, err := range g.commitSplit(ctx, items, true) {
		live[i].result <- err
	}
}

// commitSplit commits items together and returns each one's result. When
// the transaction fails as a whole (one member's text the database cannot
// store, a key that collides) while the database still answers, the batch
// is committed again as two halves, recursively, in order: the members
// that can be stored are, and only the member the failure belongs to gets
// it. No caller fails for another caller's input. When the database does
// not answer, every member gets the error at once: halving would only
// repeat the failure.
// whole is the whole batch, not a half of it.
func (g *groupCommit[T]) commitSplit(ctx context.Context, items []T, whole bool) []error {
	results, err := g.commit(ctx, items)
	if err == nil {
		return results
	}
	if len(items) > 1 && ctx.Err() == nil && g.answers(ctx) {
		if whole {
			g.logger().Warn("a batch failed; storing it again in halves so that only the member it failed for gets the error",
				"members", len(items), "error", err)
		}
		mid := len(items) / 2
		return append(g.commitSplit(ctx, items[:mid], false), g.commitSplit(ctx, items[mid:], false)...)
	}
	if len(items) > 1 {
		err = fmt.Errorf("%w (stored together with %d concurrent requests)", err, len(items)-1)
	}
	results = make([]error, len(items))
	for i := range results {
		results[i] = err
	}
	return results
}

func (g *groupCommit[T]) answers(ctx context.Context) bool {
	return g.ping == nil || g.ping(ctx) == nil
}

func (g *groupCommit[T]) logger() hclog.Logger {
	if g.log == nil {
		return hclog.NewNullLogger()
	}
	return g.log
}
