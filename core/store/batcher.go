package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of a Batcher.
const (
	DefaultBatchSize    = 256
	DefaultBatchWorkers = 8
	// batchMessages stops gathering once a batch holds this many
	// messages, so that bulk requests do not make one huge transaction.
	batchMessages = 5000
	// batchTimeout bounds one batch transaction, which runs on the
	// batcher's own context so that one caller going away cannot abort
	// the others' commit.
	batchTimeout = 30 * time.Second
)

// BatcherOptions tune a Batcher.
type BatcherOptions struct {
	// MaxBatch caps the acceptances committed together; default 256.
	MaxBatch int
	// Linger is how long a batch waits for more acceptances after the
	// first when no more are queued; 0 (the default) commits at once what
	// is queued. While one commit runs the next requests queue up anyway,
	// so batches grow with load without adding latency when idle.
	Linger time.Duration
	// Workers is how many batches may commit at the same time; default 8.
	// One worker makes the largest batches and wins when round trips to
	// PostgreSQL are fast, but when the CPU is contended each round trip
	// waits for a time slice and batches in flight side by side win (see
	// docs/performance.md). SQLite has one writer: it always uses one.
	Workers int
}

// Batcher gathers acceptances that arrive concurrently and stores each
// group with AcceptMany, one commit for all: the commit (an fsync) is the
// price of a durable accept, and sharing it is what lets many requests be
// accepted per second. Callers see the same results as Store.Accept.
type Batcher struct {
	st     *Store
	o      BatcherOptions
	queue  chan *pendingAcceptance
	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type pendingAcceptance struct {
	ctx    context.Context
	a      Acceptance
	result chan error
}

// NewBatcher starts a Batcher over st; Close stops it.
func NewBatcher(st *Store, o BatcherOptions) *Batcher {
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultBatchSize
	}
	if o.Workers <= 0 {
		o.Workers = DefaultBatchWorkers
	}
	if st.driver == DriverSQLite {
		o.Workers = 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Batcher{st: st, o: o, queue: make(chan *pendingAcceptance, o.MaxBatch*o.Workers), ctx: ctx, cancel: cancel}
	for range o.Workers {
		b.wg.Go(b.work)
	}
	return b
}

// Accept stores the acceptance in the next batch and returns its own
// result: nil, a *DuplicateError, a *ReplayError, or the error that failed
// its batch (then nothing of it was stored). After Close it stores the
// acceptance on its own.
func (b *Batcher) Accept(ctx context.Context, a Acceptance) error {
	p := &pendingAcceptance{ctx: ctx, a: a, result: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return b.st.Accept(ctx, a)
	}
	select {
	case b.queue <- p:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return fmt.Errorf("accept messages: %w", ctx.Err())
	}
	// Once queued, the caller waits for the batch: returning early could
	// report a failure for messages that are then committed.
	return <-p.result
}

// Close stores what is queued, waits for the batches in flight and stops
// the workers. Later Accepts store on their own.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
	b.cancel()
}

func (b *Batcher) work() {
	batch := make([]*pendingAcceptance, 0, b.o.MaxBatch)
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		batch = b.gather(batch)
		b.commit(batch)
	}
}

// gather adds what is queued, up to MaxBatch acceptances or about
// batchMessages messages, waiting up to Linger for more when the queue
// runs dry.
func (b *Batcher) gather(batch []*pendingAcceptance) []*pendingAcceptance {
	var linger <-chan time.Time
	if b.o.Linger > 0 {
		t := time.NewTimer(b.o.Linger)
		defer t.Stop()
		linger = t.C
	}
	msgs := 0
	for _, p := range batch {
		msgs += len(p.a.Messages)
	}
	for len(batch) < b.o.MaxBatch && msgs < batchMessages {
		select {
		case p, ok := <-b.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			msgs += len(p.a.Messages)
			continue
		default:
		}
		if linger == nil {
			return batch
		}
		select {
		case p, ok := <-b.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			msgs += len(p.a.Messages)
		case <-linger:
			return batch
		}
	}
	return batch
}

func (b *Batcher) commit(batch []*pendingAcceptance) {
	// A caller that gave up before its batch started is not stored.
	live := batch[:0:0]
	as := make([]Acceptance, 0, len(batch))
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.result <- fmt.Errorf("accept messages: %w", err)
			continue
		}
		live = append(live, p)
		as = append(as, p.a)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, batchTimeout)
	defer cancel()
	refused, err := b.st.AcceptMany(ctx, as)
	if err != nil {
		if len(live) > 1 {
			err = fmt.Errorf("%w (stored together with %d concurrent requests)", err, len(live)-1)
		}
		for _, p := range live {
			p.result <- err
		}
		return
	}
	for i, p := range live {
		p.result <- refused[i]
	}
}
