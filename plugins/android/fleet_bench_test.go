package android_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/plugins/android/phonetest"
	"github.com/smsrouter/smsrouter/plugins/internal/benchpeer"
	"github.com/smsrouter/smsrouter/sdk"
)

// countingHost hands hook requests to the provider over real HTTP, as the
// host does, and only counts the events emitted: a benchmark's host.
type countingHost struct {
	srv    *httptest.Server
	p      sdk.HookHandler
	events atomic.Int64
}

func (h *countingHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := &sdk.HookRequest{Method: r.Method, URL: h.srv.URL + r.URL.RequestURI(), Path: strings.TrimPrefix(r.URL.Path, "/hooks"),
		Header: r.Header, Body: body, RemoteAddr: r.RemoteAddr}
	cw := &countingWriter{w: w, h: h}
	if err := h.p.HandleHook(r.Context(), req, cw); err != nil && !cw.started {
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
}

type countingWriter struct {
	w       http.ResponseWriter
	h       *countingHost
	started bool
}

func (w *countingWriter) Header() http.Header { return w.w.Header() }
func (w *countingWriter) WriteHeader(s int)   { w.started = true; w.w.WriteHeader(s) }
func (w *countingWriter) Write(p []byte) (int, error) {
	w.started = true
	return w.w.Write(p)
}
func (w *countingWriter) Flush() error {
	w.started = true
	return http.NewResponseController(w.w).Flush()
}
func (w *countingWriter) Emit(evs ...sdk.Event) error {
	if w.started {
		return sdk.ErrResponseStarted
	}
	w.h.events.Add(int64(len(evs)))
	return nil
}

const (
	benchPhones   = 20
	benchParallel = 8 // the dispatcher's default Options.Parallel
)

// BenchmarkHandToPhones measures messages handed to phones per second by
// one plugin: Send calls the way the dispatcher makes them (8 at a time, a
// new one as soon as one returns) against 20 simulated phones that answer
// at once, over real HTTP on loopback. A message counts once Send answered
// it Accepted, which the plugin does only after a phone reported it
// Processed; the phones go on to report Sent and Delivered and post their
// webhooks meanwhile, as real ones do. Batches of 50 are the plugin's
// default max_batch_size, what the dispatcher sends; batches of 20 give
// each phone one message per Send.
func BenchmarkHandToPhones(b *testing.B) {
	for _, batch := range []int{20, 50} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			p, phones := benchFleet(b)
			handToPhones(b, p, phones, batch)
		})
	}
}

// BenchmarkHandToPhonesOwnProcess is BenchmarkHandToPhones with the 20
// phones in a child process, so the CPU time read from getrusage is the
// plugin's, with the HTTP server standing in for the host's hook
// forwarding (and the benchmark's loop): what one plugin process spends
// per message handed to a phone.
func BenchmarkHandToPhonesOwnProcess(b *testing.B) {
	for _, batch := range []int{20, 50} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			p, url := benchProvider(b)
			benchpeer.Start(b, "TestBenchmarkPhonesChild", benchPhonesEnv+"="+url)
			waitPhonesOnline(b, p, benchPhones)
			handToPhones(b, p, nil, batch)
		})
	}
}

// benchPhonesEnv gives the child process the phones' base URL.
const benchPhonesEnv = "PHONETEST_BENCH_URL"

// TestBenchmarkPhonesChild is BenchmarkHandToPhonesOwnProcess's child
// process: 20 phones on the URL it is given, until its stdin closes. It
// does nothing in a normal run.
func TestBenchmarkPhonesChild(t *testing.T) {
	url := os.Getenv(benchPhonesEnv)
	if url == "" {
		t.Skip("only runs as BenchmarkHandToPhonesOwnProcess's child process")
	}
	phones := phonetest.Fleet(t, url, benchPhones, "bench", "+15550000001", phonetest.Options{PrivateToken: privateToken})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ph := range phones {
		if err := ph.WaitWebhooks(ctx, phonetest.EventSmsSent); err != nil {
			t.Fatal(err)
		}
		go func() { // drained, so Received never holds a phone up
			for range ph.Received() {
			}
		}()
	}
	benchpeer.Ready()
	// The parent is done with the phones: leave without the goroutine
	// check, which the phones' open connections would fail.
	os.Exit(0)
}

// waitPhonesOnline waits until n phones are online.
func waitPhonesOnline(b *testing.B, p *android.Provider, n int) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		online := 0
		for _, ph := range p.Phones() {
			if ph.Online && ph.Streams > 0 {
				online++
			}
		}
		if online >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d phones online after 30 s", online, n)
		}
		time.Sleep(10 * time.Millisecond) // the provider has no change signal for tests; a benchmark's set-up
	}
}

// benchProvider configures a provider behind a counting host and returns
// the phones' base URL; it is closed when the benchmark ends.
func benchProvider(b *testing.B) (*android.Provider, string) {
	p := android.New()
	host := &countingHost{p: p}
	host.srv = httptest.NewServer(host)
	b.Cleanup(host.srv.Close)
	settings := fmt.Sprintf(`{"private_token":%q,"rate_limit":100000,"rate_period":"1s","max_phones":%d}`, privateToken, benchPhones)
	if err := p.Configure(context.Background(), sdk.Config{Name: "android-bench", Settings: json.RawMessage(settings), HookURL: host.srv.URL + "/hooks"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return p, host.srv.URL + "/hooks/mobile/v1"
}

// benchFleet configures a provider behind a counting host and connects 20
// phones to it; all are closed when the benchmark ends, the phones first.
func benchFleet(b *testing.B) (*android.Provider, []*phonetest.Phone) {
	p, url := benchProvider(b)
	phones := phonetest.Fleet(b, url, benchPhones, "bench", "+15550000001", phonetest.Options{PrivateToken: privateToken})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ph := range phones {
		if err := ph.WaitWebhooks(ctx, phonetest.EventSmsSent); err != nil {
			b.Fatal(err)
		}
	}
	return p, phones
}

func handToPhones(b *testing.B, p *android.Provider, phones []*phonetest.Phone, batchSize int) {
	var seq atomic.Int64
	batch := func(n int) []sdk.Message {
		msgs := make([]sdk.Message, n)
		for i := range msgs {
			k := seq.Add(1)
			msgs[i] = sdk.Message{ID: fmt.Sprintf("msg_bench_%d", k), To: fmt.Sprintf("+1555%07d", k%10000000), Text: "benchmark message", Encoding: sdk.EncodingGSM7, Segments: 1}
		}
		return msgs
	}
	var mu sync.Mutex
	var failed []string
	cpu0 := cpuTime()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	slots := make(chan struct{}, benchParallel)
	for left := b.N; left > 0; {
		slots <- struct{}{}
		n := min(batchSize, left)
		left -= n
		msgs := batch(n)
		wg.Go(func() {
			defer func() { <-slots }()
			res, err := p.Send(context.Background(), msgs)
			if err != nil {
				b.Error(err)
				return
			}
			for _, r := range res {
				if r.Outcome != sdk.Accepted {
					b.Errorf("%s: %+v", r.MessageID, r)
					mu.Lock()
					failed = append(failed, r.MessageID)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if len(failed) > 0 {
		describePhones(b, phones, failed)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
	// CPU time of the whole process (plugin, phones, HTTP on both sides)
	// per message: on a machine shared with other work, wall-clock msg/s
	// says more about the neighbours than about the plugin.
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
}

// describePhones logs what each phone did, and which of the failed
// messages it had, for a benchmark that went wrong.
func describePhones(b *testing.B, phones []*phonetest.Phone, failed []string) {
	for _, ph := range phones {
		_ = ph.WaitFor(context.Background(), "a look", func(v phonetest.View) bool {
			var has []string
			for _, id := range failed {
				if st, ok := v.State(id); ok {
					has = append(has, id+"="+string(st))
				}
			}
			b.Logf("%s: took %d, done %d, pulls %d, stream events %d, connects %d, errors %v; failed messages it has: %v",
				ph.Name(), v.Taken(), v.Done(), v.Pulls(), len(v.Events()), v.Connects(), v.Errors(), has)
			return true
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
