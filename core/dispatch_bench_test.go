package core_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
)

// memQueue hands out the same claimed batch every round and forgets what
// is recorded, so that BenchmarkDispatchRound measures the dispatcher and
// the plugin host without a database.
type memQueue struct {
	batch []dispatch.Message
	mu    sync.Mutex
	sent  int
}

func (q *memQueue) ClaimDue(_ context.Context, now time.Time, limit int, lease time.Duration) ([]dispatch.Message, error) {
	out := make([]dispatch.Message, min(limit, len(q.batch)))
	copy(out, q.batch)
	until := now.Add(lease)
	for i := range out {
		out[i].LeaseUntil = &until
	}
	return out, nil
}

func (q *memQueue) RecordAttempts(_ context.Context, results []message.Attempt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range results {
		if r.Status == message.Sent {
			q.sent++
		}
	}
	return nil
}

func (q *memQueue) NextDue(context.Context) (time.Time, bool, error) { return time.Time{}, false, nil }

type discardEvents struct{}

func (discardEvents) StoreEvents(context.Context, string, []message.Event) error { return nil }

// BenchmarkDispatchRound measures one dispatch round of 500 claimed
// messages (claim, send to an in-process sandbox in batches of 100, and
// the recorded attempts) without a database: the dispatcher's and the
// plugin host's own cost per message.
func BenchmarkDispatchRound(b *testing.B) {
	cfg, err := config.Parse([]byte(benchConfig), "bench.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		b.Fatal(err)
	}
	host := pluginhost.New(pluginhost.Options{Events: discardEvents{}})
	p := cfg.Providers[0]
	if err := host.Start(context.Background(), []pluginhost.Spec{{Name: p.Name, Settings: p.Settings, InProcess: sandbox.New()}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(host.Stop)
	now := time.Now()
	q := &memQueue{batch: make([]dispatch.Message, 500)}
	for i := range q.batch {
		q.batch[i] = dispatch.Message{ID: fmt.Sprintf("msg_%d", i), Recipient: "+959123456789", Text: "bench", Encoding: "gsm7",
			Segments: 1, Kind: "sms", Status: message.Queued, Plan: `["sandbox"]`, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
	}
	d := dispatch.New(q, host, dispatch.Options{})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.DispatchOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if q.sent == 0 {
		b.Fatal("the sandbox accepted no message")
	}
	b.ReportMetric(float64(q.sent)/b.Elapsed().Seconds(), "msg/s")
}
