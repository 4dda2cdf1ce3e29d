package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/intake"
)

// Defaults of a Batcher.
const (
	DefaultBatchSize    = 256
	DefaultBatchWorkers = 2
	// batchMessages stops gathering once a batch holds this many
	// messages, so that bulk requests do not make one huge transaction.
	batchMessages = 5000
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
	// Workers is how many batches may commit at the same time; default 2:
	// one batch gathers while the other commits. More batches side by side
	// helped when every report was a commit of its own and round trips
	// queued behind them; with reports and rate limits batched too, 2 beat
	// 4 and 8 through HTTP on PostgreSQL (docs/performance.md, second
	// round). SQLite has one writer: it always uses one.
	Workers int
}

// Batcher gathers acceptances that arrive concurrently and stores each
// group with AcceptMany, one commit for all: the commit (an fsync) is the
// price of a durable accept, and sharing it is what lets many requests be
// accepted per second. Callers see the same results as Store.Accept: a
// batch the database refuses as a whole is stored again in halves, so that
// one caller's bad acceptance fails only that caller (see commitSplit).
type Batcher struct {
	g groupCommit[intake.Acceptance]
}

// NewBatcher starts a Batcher over st; Close stops it.
func NewBatcher(st *Store, o BatcherOptions) *Batcher {
	if st.driver == DriverSQLite {
		o.Workers = 1
	}
	b := &Batcher{g: groupCommit[intake.Acceptance]{
		o:         o,
		weight:    func(a intake.Acceptance) int { return len(a.Messages) },
		maxWeight: batchMessages,
		commit:    st.AcceptMany,
		alone:     st.Accept,
		ping:      st.Ping,
		log:       st.log,
	}}
	b.g.start()
	return b
}

// Accept stores the acceptance in the next batch and returns its own
// result: nil, a *message.DuplicateError, a *intake.ReplayError, or the error that kept
// it from being stored. After Close it stores the
// acceptance on its own.
func (b *Batcher) Accept(ctx context.Context, a intake.Acceptance) error {
	if err := b.g.do(ctx, a); err != nil {
		if errors.Is(err, ctx.Err()) {
			return fmt.Errorf("accept messages: %w", err)
		}
		return err
	}
	return nil
}

// Close stores what is queued, waits for the batches in flight and stops
// the workers. Later Accepts store on their own.
func (b *Batcher) Close() { b.g.close() }
