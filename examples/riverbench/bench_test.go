package riverbench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// senders is how many concurrent "requests" accept messages, as the load
// generator's 50 senders do.
const senders = 50

// acceptBatch is how many messages one accept transaction carries in the
// batched variants, about what smsrouter's accept batcher gathers under
// load.
const acceptBatch = 100

func pool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	dsn := os.Getenv("RIVERBENCH_DSN")
	if dsn == "" {
		b.Skip("RIVERBENCH_DSN is not set (a scratch PostgreSQL database)")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("riverbench_%d", time.Now().UnixNano())
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = 40
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	if _, err := p.Exec(ctx, `CREATE TABLE messages (id bigint PRIMARY KEY, body text NOT NULL, status text NOT NULL,
		lease_until timestamptz, provider_id text)`); err != nil {
		b.Fatal(err)
	}
	if _, err := p.Exec(ctx, `CREATE INDEX messages_due ON messages (status) WHERE status = 'queued'`); err != nil {
		b.Fatal(err)
	}
	return p
}

// SendArgs is the job of one message (or of a batch, with IDs).
type SendArgs struct {
	IDs []int64 `json:"ids"`
}

func (SendArgs) Kind() string { return "send" }

// sendWorker "sends" its messages: it records them sent, one commit per job.
type sendWorker struct {
	river.WorkerDefaults[SendArgs]
	p    *pgxpool.Pool
	sent *atomic.Int64
	done chan struct{}
	n    int64
}

func (w *sendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	if _, err := w.p.Exec(ctx, "UPDATE messages SET status = 'sent', provider_id = 'p-' || id WHERE id = ANY($1)", job.Args.IDs); err != nil {
		return err
	}
	if w.sent.Add(int64(len(job.Args.IDs))) == w.n {
		close(w.done)
	}
	return nil
}

// benchRiver accepts b.N messages from 50 concurrent senders, each message
// row and its job in one transaction, perBatch messages per transaction and
// per job, while River's workers send them; it reports messages/s from the
// first accept to the last message sent.
func benchRiver(b *testing.B, perTx int, jobPerMessage bool) {
	p := pool(b)
	ctx := context.Background()
	migrator, err := rivermigrate.New(riverpgxv5.New(p), nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		b.Fatal(err)
	}
	w := &sendWorker{p: p, sent: new(atomic.Int64), done: make(chan struct{}), n: int64(b.N)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := river.NewClient(riverpgxv5.New(p), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 100}},
		Workers:           workers,
		FetchCooldown:     5 * time.Millisecond, // default 100 ms caps a queue at MaxWorkers × 10 jobs/s
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = client.Stop(ctx) }()

	b.ResetTimer()
	start := time.Now()
	accept(b, p, perTx, func(tx pgx.Tx, ids []int64) error {
		var params []river.InsertManyParams
		if jobPerMessage {
			for _, id := range ids {
				params = append(params, river.InsertManyParams{Args: SendArgs{IDs: []int64{id}}})
			}
		} else {
			params = []river.InsertManyParams{{Args: SendArgs{IDs: ids}}}
		}
		_, err := client.InsertManyTx(ctx, tx, params)
		return err
	})
	accepted := time.Since(start)
	select {
	case <-w.done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d messages sent after 5 minutes", w.sent.Load(), b.N)
	}
	report(b, start, accepted)
}

// benchTable is smsrouter's design in miniature: messages are the queue;
// dispatchers claim due ones in batches with a lease (SKIP LOCKED) and
// record them sent with one statement per batch.
func benchTable(b *testing.B, perTx int) {
	p := pool(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range 2 { // two dispatchers, as two claims in flight
		wg.Go(func() {
			for ctx.Err() == nil {
				rows, err := p.Query(ctx, `UPDATE messages SET lease_until = now() + interval '1 minute' WHERE id IN (
					SELECT id FROM messages WHERE status = 'queued' AND (lease_until IS NULL OR lease_until < now())
					ORDER BY id LIMIT 256 FOR UPDATE SKIP LOCKED) RETURNING id`)
				if err != nil {
					return
				}
				ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
				if err != nil {
					return
				}
				if len(ids) == 0 {
					select { // smsrouter's dispatcher is woken by accepts; a short poll stands in
					case <-ctx.Done():
					case <-time.After(2 * time.Millisecond):
					}
					continue
				}
				if _, err := p.Exec(ctx, "UPDATE messages SET status = 'sent', provider_id = 'p-' || id, lease_until = NULL WHERE id = ANY($1)", ids); err != nil {
					return
				}
				if sent.Add(int64(len(ids))) == int64(b.N) {
					close(done)
				}
			}
		})
	}
	b.ResetTimer()
	start := time.Now()
	accept(b, p, perTx, func(pgx.Tx, []int64) error { return nil })
	accepted := time.Since(start)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("only %d of %d messages sent after 5 minutes", sent.Load(), b.N)
	}
	report(b, start, accepted)
}

// accept stores b.N messages from senders goroutines, perTx per
// transaction, calling enqueue inside each transaction.
func accept(b *testing.B, p *pgxpool.Pool, perTx int, enqueue func(pgx.Tx, []int64) error) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				first := next.Add(int64(perTx)) - int64(perTx)
				if first >= int64(b.N) {
					return
				}
				var ids []int64
				for id := first; id < min(first+int64(perTx), int64(b.N)); id++ {
					ids = append(ids, id)
				}
				err := pgx.BeginFunc(ctx, p, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "INSERT INTO messages (id, body, status) SELECT unnest($1::bigint[]), 'hello', 'queued'", ids); err != nil {
						return err
					}
					return enqueue(tx, ids)
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func report(b *testing.B, start time.Time, accepted time.Duration) {
	total := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(b.N)/total.Seconds(), "sent/s")
	b.ReportMetric(0, "ns/op")
}

// River, a job per message, a transaction per message (a request each).
func BenchmarkRiverJobPerMessage(b *testing.B) { benchRiver(b, 1, true) }

// River, a job per message, messages accepted 100 per transaction (group
// commit of concurrent requests).
func BenchmarkRiverJobPerMessageBatchedAccept(b *testing.B) { benchRiver(b, acceptBatch, true) }

// River, a job per accepted batch of 100 messages.
func BenchmarkRiverJobPerBatch(b *testing.B) { benchRiver(b, acceptBatch, false) }

// The messages table as the queue, a transaction per message.
func BenchmarkTableQueue(b *testing.B) { benchTable(b, 1) }

// The messages table as the queue, 100 messages per accept transaction.
func BenchmarkTableQueueBatchedAccept(b *testing.B) { benchTable(b, acceptBatch) }
