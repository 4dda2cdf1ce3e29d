package core_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
)

const benchConfig = `
provider "sandbox" {
  plugin = "sandbox"
  config = { dlr_delay = "0s", seed = 1, max_batch_size = 100 }
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`

type benchEnv struct {
	st   *store.Store
	svc  *core.Service
	acc  string
	host *pluginhost.Host
	cfg  *config.Config
}

func newBenchEnv(b *testing.B, driver string) *benchEnv {
	b.Helper()
	st := storetest.OpenWith(b, store.Options{Driver: driver, Logger: nil})
	cfg, err := config.Parse([]byte(benchConfig), "bench.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		b.Fatal(err)
	}
	host := pluginhost.New(pluginhost.Options{Events: st})
	p := cfg.Providers[0]
	if err := host.Start(context.Background(), []pluginhost.Spec{{Name: p.Name, Settings: p.Settings, InProcess: sandbox.New()}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(host.Stop)
	acc, err := st.CreateAccount(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{st: st, svc: core.NewService(st, cfg.Table, nil, core.Options{}), acc: acc.ID, host: host, cfg: cfg}
}

// BenchmarkAccept measures the accept path of POST /api/v1/sms/send without
// HTTP: number parsing, segment counting, routing and one stored message
// per call, from 32 concurrent callers.
func BenchmarkAccept(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		b.Run(driver, func(b *testing.B) {
			e := newBenchEnv(b, driver)
			b.SetParallelism(16) // × GOMAXPROCS callers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.svc.Send(context.Background(), e.acc, core.SendRequest{To: "+959123456789", Message: "bench"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}

// BenchmarkPipeline measures dispatch and delivery: b.N queued messages are
// claimed, sent to an in-process sandbox (no latency, immediate reports) and
// their reports stored, until every one is delivered.
func BenchmarkPipeline(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		b.Run(driver, func(b *testing.B) {
			e := newBenchEnv(b, driver)
			for i := 0; i < b.N; i += 500 {
				n := min(500, b.N-i)
				msgs := make([]*store.Message, n)
				now := time.Now().UTC()
				for j := range msgs {
					msgs[j] = &store.Message{ID: recordid.New("msg_"), AccountID: e.acc, Recipient: "+959123456789", Text: fmt.Sprint(i + j),
						Encoding: "gsm7", Segments: 1, Kind: "sms", Status: "queued", Plan: `["sandbox"]`, NextAttemptAt: now,
						ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
				}
				if err := storetest.InsertMessages(context.Background(), e.st, msgs); err != nil {
					b.Fatal(err)
				}
			}
			d := dispatch.New(e.st, e.host, dispatch.Options{PollInterval: 5 * time.Millisecond})
			b.ResetTimer()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = d.Run(ctx) }()
			deadline := time.Now().Add(5 * time.Minute)
			for {
				if time.Now().After(deadline) {
					b.Fatalf("not every message was delivered within 5 minutes")
				}
				counts, err := storetest.CountByStatus(context.Background(), e.st)
				if err != nil {
					b.Fatal(err)
				}
				if counts["delivered"] == int64(b.N) {
					break
				}
				time.Sleep(5 * time.Millisecond) // benchmark progress check, not a test wait
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}
