package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	base, key, to string
	n, c, bulk    int
	duration      time.Duration
	wait          time.Duration
	serverPID     int
}

func main() {
	var o options
	flag.StringVar(&o.base, "url", "http://127.0.0.1:3005", "smsrouter base URL")
	flag.StringVar(&o.key, "key", os.Getenv("SMSROUTER_KEY"), "API key (or SMSROUTER_KEY)")
	flag.IntVar(&o.n, "n", 2000, "messages to send at most (recipients, with -bulk)")
	flag.DurationVar(&o.duration, "duration", time.Minute, "stop sending after this long")
	flag.IntVar(&o.c, "c", 16, "concurrent senders")
	flag.IntVar(&o.bulk, "bulk", 0, "recipients per POST /api/v1/sms/bulk request (0: single POST /api/v1/sms/send)")
	flag.StringVar(&o.to, "to", "+959123456789", "recipient of single sends; bulk sends vary its last 4 digits")
	flag.DurationVar(&o.wait, "wait", 2*time.Minute, "how long to wait for final statuses (0: do not wait)")
	flag.IntVar(&o.serverPID, "server-pid", 0, "the server's process id, to report its CPU time per message (Linux /proc)")
	flag.Parse()
	if o.key == "" {
		fmt.Fprintln(os.Stderr, "loadgen: give an API key with -key or SMSROUTER_KEY")
		os.Exit(2)
	}
	if o.c < 1 || o.n < 1 || o.bulk < 0 || o.bulk > 1000 {
		fmt.Fprintln(os.Stderr, "loadgen: -c and -n must be at least 1, -bulk between 0 and 1000")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type client struct {
	http      *http.Client
	base, key string
}

func (c *client) call(ctx context.Context, method, path string, body any, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return resp.StatusCode, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, nil
}

type answer struct {
	MessageID string `json:"message_id"`
	Status    string `json:"status"`
	Error     string `json:"error"`
	Queued    int    `json:"queued"`
	Results   []struct {
		MessageID string `json:"message_id"`
		Error     string `json:"error"`
	} `json:"results"`
}

func run(ctx context.Context, o options) error {
	cl := &client{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.c}, Timeout: 30 * time.Second}, base: o.base, key: o.key}
	per := max(1, o.bulk)
	requests := (o.n + per - 1) / per
	sendCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()

	var next atomic.Int64
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, requests)
	ids := make([]string, 0, o.n)
	failures := map[string]int{}
	stamp := time.Now().UnixNano() // texts differ from any earlier run's
	cpu0, err := cpuTime(o.serverPID)
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range o.c {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(requests) || sendCtx.Err() != nil {
					return
				}
				var a answer
				var body any
				path := "/api/v1/sms/send"
				if o.bulk > 0 {
					path = "/api/v1/sms/bulk"
					to := make([]string, per)
					for k := range to {
						to[k] = fmt.Sprintf("%s%04d", o.to[:len(o.to)-4], (int(i)*per+k)%10000)
					}
					body = map[string]any{"to": to, "message": fmt.Sprintf("load test %d batch %d", stamp, i)}
				} else {
					body = map[string]string{"to": o.to, "message": fmt.Sprintf("load test %d message %d", stamp, i)}
				}
				t0 := time.Now()
				code, err := cl.call(sendCtx, "POST", path, body, &a)
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil && sendCtx.Err() != nil:
					// The time bound cut this request short; not a failure.
				case err != nil:
					failures[err.Error()]++
				case code != http.StatusAccepted:
					failures[fmt.Sprintf("HTTP %d %s", code, a.Error)]++
				default:
					latencies = append(latencies, d)
					if o.bulk > 0 {
						for _, r := range a.Results {
							if r.Error != "" {
								failures["rejected recipient: "+r.Error]++
							} else {
								ids = append(ids, r.MessageID)
							}
						}
					} else {
						ids = append(ids, a.MessageID)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := cpuTime(o.serverPID)
	if err != nil {
		return err
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	what := "single sends"
	if o.bulk > 0 {
		what = fmt.Sprintf("bulk requests of %d", o.bulk)
	}
	fmt.Printf("accepted %d messages in %s: %.0f msg/s (%.0f requests/s), %s, %d senders\n", len(ids), elapsed.Round(time.Millisecond),
		float64(len(ids))/elapsed.Seconds(), float64(len(latencies))/elapsed.Seconds(), what, o.c)
	if len(latencies) > 0 {
		fmt.Printf("request latency p50 %s  p95 %s  p99 %s  max %s\n", pct(latencies, 50), pct(latencies, 95), pct(latencies, 99), latencies[len(latencies)-1])
	}
	if o.serverPID > 0 && len(ids) > 0 {
		fmt.Printf("server CPU %s: %.3f CPU-ms per message (%.0f%% of one core)\n", (cpu1 - cpu0).Round(time.Millisecond),
			float64((cpu1-cpu0).Microseconds())/1000/float64(len(ids)), 100*(cpu1-cpu0).Seconds()/elapsed.Seconds())
	}
	for f, k := range failures {
		fmt.Printf("refused %d: %s\n", k, f)
	}
	if o.wait <= 0 || len(ids) == 0 {
		return nil
	}
	return awaitFinal(ctx, cl, ids, o.wait, start)
}

// awaitFinal polls the last message first: messages are dispatched roughly
// in order, so once it is final most others are too, and the poll stays
// cheap.
func awaitFinal(ctx context.Context, cl *client, ids []string, wait time.Duration, start time.Time) error {
	final := map[string]bool{"delivered": true, "failed": true, "expired": true, "rejected": true, "undeliverable": true}
	deadline := time.Now().Add(wait)
	counts := map[string]int{}
	for i := len(ids) - 1; i >= 0; i-- {
		for {
			var a answer
			code, err := cl.call(ctx, "GET", "/api/v1/sms/status/"+ids[i], nil, &a)
			if err != nil {
				return err
			}
			if code == http.StatusOK && final[a.Status] {
				counts[a.Status]++
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("message %s still %q after %s", ids[i], a.Status, wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	total := time.Since(start)
	fmt.Printf("all %d final after %s: %.0f msg/s end to end; %v\n", len(ids), total.Round(time.Millisecond), float64(len(ids))/total.Seconds(), counts)
	return nil
}

// cpuTime is the process's user plus system CPU time from /proc/PID/stat;
// zero when pid is 0.
func cpuTime(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's CPU time (-server-pid %d): %w", pid, err)
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis (state is field 3, utime 14, stime 15).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	// Clock ticks are 100 per second on Linux everywhere that matters.
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(10 * time.Microsecond)
}
