package smpp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
)

// BenchmarkSubmit measures submits per second through the plugin to the
// simulator on loopback, one bind, receipts flowing (every submit asks for a
// receipt and each is emitted and acknowledged).
//
// Send is called the way the host's dispatcher calls it: rounds of
// dispatchParallel concurrent Send calls of batchSize messages (its
// Options.Parallel and the plugin's max_batch_size), each round waiting for
// its slowest Send before the next one starts.
func BenchmarkSubmit(b *testing.B) {
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		for _, window := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("latency=%s/window=%d", latency, window), func(b *testing.B) {
				benchSubmit(b, window, latency, false)
			})
		}
	}
}

// BenchmarkSubmitContinuous is BenchmarkSubmit with the batches fed
// continuously (a new one as soon as one is answered) instead of in rounds:
// the plugin's own ceiling, without the drained window at the end of each
// of the dispatcher's rounds.
func BenchmarkSubmitContinuous(b *testing.B) {
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s/window=100", latency), func(b *testing.B) {
			benchSubmit(b, 100, latency, true)
		})
	}
}

const (
	dispatchParallel = 8   // the dispatcher's default Options.Parallel
	batchSize        = 100 // the plugin's default max_batch_size
)

func benchSubmit(b *testing.B, window int, latency time.Duration, continuous bool) {
	srv := startSMSC(b, smsctest.Config{Latency: latency})
	srv.KeepSubmits(false)
	p := newProvider(b, srv, map[string]any{"window": window, "response_timeout": "30s", "queue_timeout": "60s"})
	ctx, cancel := context.WithCancel(context.Background())
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		_ = p.Events(ctx, func(context.Context, sdk.Event) error { return nil })
	}()
	defer func() { cancel(); <-evDone }()

	msgs := messages("msg_bench_", batchSize, "benchmark message")
	send := func(n int) {
		res, err := p.Send(context.Background(), msgs[:n])
		if err != nil {
			b.Error(err)
			return
		}
		for _, r := range res {
			if r.Outcome != sdk.Accepted {
				b.Errorf("%+v", r)
				return
			}
		}
	}
	// Sample how many submits the SMSC holds unanswered: a window kept
	// full reads as the window size.
	var samples, held int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				samples++
				held += srv.Stats().Outstanding
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	if continuous {
		var wg sync.WaitGroup
		slots := make(chan struct{}, dispatchParallel)
		for left := b.N; left > 0; {
			slots <- struct{}{}
			n := min(batchSize, left)
			left -= n
			wg.Go(func() {
				defer func() { <-slots }()
				send(n)
			})
		}
		wg.Wait()
	}
	for left := b.N; left > 0 && !continuous; {
		var wg sync.WaitGroup
		for i := 0; i < dispatchParallel && left > 0; i++ {
			n := min(batchSize, left)
			left -= n
			wg.Go(func() { send(n) })
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	close(stopSampling)
	<-sampled
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "submits/s")
	b.ReportMetric(float64(held)/float64(max(samples, 1)), "window-used")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSimulatorAlone measures the simulator's own ceiling with a
// minimal pipelined ESME (no plugin): window 100, receipts flowing, at 0 ms
// and at 5 ms latency, so the plugin's figures can be told apart from the
// simulator's.
func BenchmarkSimulatorAlone(b *testing.B) {
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%s/window=100", latency), func(b *testing.B) {
			benchSimulatorAlone(b, latency)
		})
	}
}

func benchSimulatorAlone(b *testing.B, latency time.Duration) {
	srv := startSMSC(b, smsctest.Config{Latency: latency})
	srv.KeepSubmits(false)
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	bind := pdu.NewBindRequest(pdu.Transceiver)
	bind.SystemID = "bench"
	buf := pdu.NewBuffer(nil)
	bind.Marshal(buf)
	if _, err := conn.Write(buf.Bytes()); err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	if _, err := pdu.Parse(r); err != nil {
		b.Fatal(err)
	}
	sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
	sm.DestAddr = pdu.NewAddressWithTonNpi(1, 1)
	_ = sm.DestAddr.SetAddress("14155550100")
	sm.RegisteredDelivery = 1
	_ = sm.Message.SetMessageWithEncoding("benchmark message", data.GSM7BIT)
	buf = pdu.NewBuffer(nil)
	sm.Marshal(buf)
	frame := buf.Bytes()

	const window = 100
	slots := make(chan struct{}, window)
	out := make(chan []byte, 4096)
	writeDone := make(chan struct{})
	go func() {
		// Coalesce: write all that is queued, then flush once.
		defer close(writeDone)
		w := bufio.NewWriterSize(conn, 64<<10)
		for f := range out {
			_, _ = w.Write(f)
			for len(out) > 0 {
				_, _ = w.Write(<-out)
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	}()
	write := func(f []byte) { out <- f }
	// Send times by sequence number, to report the round trip the client
	// actually saw next to the configured latency.
	sentAt := make([]atomic.Int64, b.N+1)
	var rtt time.Duration
	readDone := make(chan struct{})
	answered := 0
	go func() {
		defer close(readDone)
		var hb [16]byte
		for answered < b.N {
			if _, err := io.ReadFull(r, hb[:]); err != nil {
				return
			}
			n := binary.BigEndian.Uint32(hb[0:])
			id := binary.BigEndian.Uint32(hb[4:])
			if _, err := r.Discard(int(n) - 16); err != nil {
				return
			}
			switch id {
			case 0x80000004:
				answered++
				if seq := binary.BigEndian.Uint32(hb[12:]); int(seq) < len(sentAt) {
					rtt += time.Duration(time.Now().UnixNano() - sentAt[seq].Load())
				}
				<-slots
			case 0x00000005:
				resp := make([]byte, 17)
				binary.BigEndian.PutUint32(resp[0:], 17)
				binary.BigEndian.PutUint32(resp[4:], 0x80000005)
				copy(resp[12:16], hb[12:16])
				write(resp)
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		slots <- struct{}{}
		f := append([]byte(nil), frame...)
		binary.BigEndian.PutUint32(f[12:], uint32(i+1))
		sentAt[i+1].Store(time.Now().UnixNano())
		write(f)
	}
	<-readDone
	elapsed := time.Since(start)
	b.StopTimer()
	close(out)
	<-writeDone
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "submits/s")
	b.ReportMetric(float64(rtt.Microseconds())/float64(max(answered, 1))/1000, "rtt-ms")
	b.ReportMetric(0, "ns/op")
}
