package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// ReportGate lets delivery reports wait for the dispatch rounds that were
// sending to their provider when they arrived, until those rounds have
// recorded the providers' answers.
//
// A provider that reports at once sends the report while the submit answer
// is still being recorded. Stored then, the report finds no message with
// its provider id and is held, to be matched when the answer lands: an
// insert, a lookup, a delete and a second pass per message, most of a
// round's reports at a few hundred messages a second. Waiting the few
// milliseconds until the round has recorded turns that into the ordinary
// path. The wait is bounded (MaxReportWait); what still races is held as
// before, so the gate only saves work and never decides an outcome.
type ReportGate struct {
	mu sync.Mutex
	// next numbers rounds; inFlight holds the numbers of each provider's
	// rounds not yet recorded.
	next     uint64
	inFlight map[string]map[uint64]struct{}
	// changed is closed (and replaced) whenever a round ends.
	changed chan struct{}
}

// MaxReportWait bounds how long a report waits for the rounds before it.
const MaxReportWait = 2 * time.Second

// NewReportGate returns a gate with no round in flight.
func NewReportGate() *ReportGate {
	return &ReportGate{inFlight: map[string]map[uint64]struct{}{}, changed: make(chan struct{})}
}

// enter notes a round starting to send to provider and returns what ends it.
func (g *ReportGate) enter(provider string) (leave func()) {
	g.mu.Lock()
	g.next++
	n := g.next
	if g.inFlight[provider] == nil {
		g.inFlight[provider] = map[uint64]struct{}{}
	}
	g.inFlight[provider][n] = struct{}{}
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			delete(g.inFlight[provider], n)
			close(g.changed)
			g.changed = make(chan struct{})
			g.mu.Unlock()
		})
	}
}

// AwaitRounds waits until every round that was sending to provider when it
// was called has recorded its answers, ctx ends, or MaxReportWait passed.
// A nil gate does not wait.
func (g *ReportGate) AwaitRounds(ctx context.Context, provider string) {
	if g == nil {
		return
	}
	g.mu.Lock()
	var upTo uint64
	for n := range g.inFlight[provider] {
		upTo = max(upTo, n)
	}
	g.mu.Unlock()
	if upTo == 0 {
		return
	}
	timer := time.NewTimer(MaxReportWait)
	defer timer.Stop()
	for {
		g.mu.Lock()
		waiting := false
		for n := range g.inFlight[provider] {
			if n <= upTo {
				waiting = true
				break
			}
		}
		changed := g.changed
		g.mu.Unlock()
		if !waiting {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// EventStore stores providers' events.
type EventStore interface {
	StoreEvents(ctx context.Context, provider string, events []message.Event) error
}

// Guard returns next with the gate in front: a group of events with a
// status report in it waits for the rounds sending to its provider
// (AwaitRounds) before it is stored; inbound messages alone do not wait.
func (g *ReportGate) Guard(next EventStore) EventStore { return guarded{next: next, gate: g} }

type guarded struct {
	next EventStore
	gate *ReportGate
}

func (g guarded) StoreEvents(ctx context.Context, provider string, events []message.Event) error {
	for _, ev := range events {
		if ev.Report != nil {
			g.gate.AwaitRounds(ctx, provider)
			break
		}
	}
	return g.next.StoreEvents(ctx, provider, events)
}
