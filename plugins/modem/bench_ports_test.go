package modem_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/internal/benchpeer"
	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

// benchPortsEnv names the directory the child process serves its simulated
// modems in (modem0, modem1, …); benchCountEnv how many.
const (
	benchPortsEnv = "MODEMTEST_BENCH_DIR"
	benchCountEnv = "MODEMTEST_BENCH_PORTS"
)

// BenchmarkSendSixteenPorts measures the plugin's own cost per message:
// 16 simulated modems answering at once (no latency, no pacing), every
// message a single GSM-7 part with a status report requested and
// delivered. The modems run in a child process, so the CPU time read from
// getrusage is the plugin's (and this benchmark's loop) alone; cpu-µs/msg
// covers the send, the +CMGS answer and the status report's +CDS.
func BenchmarkSendSixteenPorts(b *testing.B) {
	const ports = 16
	dir := b.TempDir()
	benchpeer.Start(b, "TestBenchmarkModemChild", benchPortsEnv+"="+dir, benchCountEnv+"="+strconv.Itoa(ports))
	paths := make([]any, ports)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("modem%d", i))
	}
	settings := map[string]any{
		"ports": paths, "send_interval": "0s", "health_interval": "1h",
		"command_timeout": "5s", "send_timeout": "10s",
		"reopen_backoff": "20ms", "reopen_backoff_max": "200ms",
	}
	p, allDelivered := startBenchProvider(b, settings, b.N)
	waitPortsReady(b, p, ports)

	batch := 32 // the plugin's default max_batch_size
	msgs := make([]sdk.Message, batch)
	b.ReportAllocs()
	b.ResetTimer()
	before := cpuTime()
	start := time.Now()
	for sent := 0; sent < b.N; sent += batch {
		n := min(batch, b.N-sent)
		for i := range n {
			msgs[i] = sdk.Message{ID: fmt.Sprintf("m%d", sent+i), To: "+4791234567", Text: "benchmark message",
				Encoding: sdk.EncodingGSM7, Segments: 1}
		}
		res, err := p.Send(context.Background(), msgs[:n])
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Outcome != sdk.Accepted {
				b.Fatalf("send: %+v", r)
			}
		}
	}
	select {
	case <-allDelivered:
	case <-time.After(time.Minute):
		b.Fatalf("the %d messages were not all delivered within a minute", b.N)
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - before
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/msg")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
}

// TestBenchmarkModemChild is the benchmark's child process: it serves the
// simulated modems until its stdin closes. It does nothing in a normal run.
func TestBenchmarkModemChild(t *testing.T) {
	dir := os.Getenv(benchPortsEnv)
	if dir == "" {
		t.Skip("only runs as BenchmarkSendSixteenPorts's child process")
	}
	n, err := strconv.Atoi(os.Getenv(benchCountEnv))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range n {
		m := modemtest.New(t, modemtest.Options{Path: filepath.Join(dir, fmt.Sprintf("modem%d", i))})
		go func() { // drained so Sent() never fills
			for {
				select {
				case <-m.Sent():
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	benchpeer.Ready()
}

// startBenchProvider configures the provider and counts its delivered
// events; the channel closes at the want-th.
func startBenchProvider(b *testing.B, settings map[string]any, want int) (*modem.Provider, <-chan struct{}) {
	b.Helper()
	raw, err := json.Marshal(settings)
	if err != nil {
		b.Fatal(err)
	}
	p := modem.New()
	if err := p.Configure(context.Background(), sdk.Config{Name: "modems", Settings: raw}); err != nil {
		b.Fatalf("configure: %v", err)
	}
	var delivered atomic.Int64
	all := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Events(ctx, func(_ context.Context, ev sdk.Event) error {
			if ev.Status != nil && ev.Status.Status == sdk.StatusDelivered {
				if delivered.Add(1) == int64(want) {
					close(all)
				}
			}
			return nil
		})
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		_ = p.Close(context.Background())
	})
	return p, all
}

func waitPortsReady(b *testing.B, p *modem.Provider, n int) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		changed := modem.Changes(p)
		hl, err := p.Health(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(hl.Detail, strconv.Itoa(n)+"/") {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			b.Fatalf("ports not ready: %+v", hl)
		}
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
