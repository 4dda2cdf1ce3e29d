package smpp_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
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
func BenchmarkSubmit(b *testing.B) {
	for _, latency := range []time.Duration{0, 5 * time.Millisecond} {
		for _, window := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("latency=%s/window=%d", latency, window), func(b *testing.B) {
				benchSubmit(b, window, latency)
			})
		}
	}
}

func benchSubmit(b *testing.B, window int, latency time.Duration) {
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

	const batch = 100
	// Enough concurrent Send calls to keep the window full, as the host's
	// dispatcher does with several batches in flight.
	senders := max(2, 4*window/batch+2)
	msgs := messages("msg_bench_", batch, "benchmark message")
	var wg sync.WaitGroup
	work := make(chan int)
	b.ResetTimer()
	start := time.Now()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
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
		}()
	}
	for left := b.N; left > 0; left -= batch {
		work <- min(batch, left)
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "submits/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSimulatorAlone measures the simulator's own ceiling with a
// minimal pipelined ESME (no plugin): window 100, 0 ms, receipts flowing.
func BenchmarkSimulatorAlone(b *testing.B) {
	srv := startSMSC(b, smsctest.Config{})
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
		write(f)
	}
	<-readDone
	elapsed := time.Since(start)
	b.StopTimer()
	close(out)
	<-writeDone
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "submits/s")
	b.ReportMetric(0, "ns/op")
}
