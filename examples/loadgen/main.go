package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:3005", "smsrouter base URL")
	key := flag.String("key", os.Getenv("SMSROUTER_KEY"), "API key (or SMSROUTER_KEY)")
	n := flag.Int("n", 2000, "messages to send")
	c := flag.Int("c", 16, "concurrent senders")
	to := flag.String("to", "+959123456789", "recipient")
	wait := flag.Duration("wait", 2*time.Minute, "how long to wait for final statuses (0: do not wait)")
	flag.Parse()
	if *key == "" {
		fmt.Fprintln(os.Stderr, "loadgen: give an API key with -key or SMSROUTER_KEY")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *key, *to, *n, *c, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, base, key, to string, n, c int, wait time.Duration) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, Timeout: 30 * time.Second}
	call := func(method, path string, body any) (int, map[string]any, error) {
		var r io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			r = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, r)
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out, nil
	}

	var next atomic.Int64
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, n)
	ids := make([]string, 0, n)
	failures := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				code, body, err := call("POST", "/api/v1/sms/send", map[string]string{"to": to, "message": fmt.Sprintf("load test message %d", i)})
				d := time.Since(t0)
				mu.Lock()
				switch {
				case err != nil:
					failures[err.Error()]++
				case code != http.StatusAccepted:
					failures[fmt.Sprintf("HTTP %d %v", code, body["error"])]++
				default:
					latencies = append(latencies, d)
					ids = append(ids, body["message_id"].(string))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	fmt.Printf("accepted %d of %d in %s: %.0f msg/s with %d senders\n", len(ids), n, elapsed.Round(time.Millisecond),
		float64(len(ids))/elapsed.Seconds(), c)
	if len(latencies) > 0 {
		fmt.Printf("send latency p50 %s  p95 %s  p99 %s  max %s\n", pct(latencies, 50), pct(latencies, 95), pct(latencies, 99), latencies[len(latencies)-1])
	}
	for f, k := range failures {
		fmt.Printf("refused %d: %s\n", k, f)
	}
	if wait <= 0 || len(ids) == 0 {
		return nil
	}

	// Poll the last message first: messages are dispatched roughly in order,
	// so once it is final most others are too, and the poll stays cheap.
	final := map[string]bool{"delivered": true, "failed": true, "expired": true, "rejected": true, "undeliverable": true}
	deadline := time.Now().Add(wait)
	counts := map[string]int{}
	for i := len(ids) - 1; i >= 0; i-- {
		for {
			code, body, err := call("GET", "/api/v1/sms/status/"+ids[i], nil)
			if err != nil {
				return err
			}
			st, _ := body["status"].(string)
			if code == http.StatusOK && final[st] {
				counts[st]++
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("message %s still %q after %s", ids[i], st, wait)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	total := time.Since(start)
	fmt.Printf("all %d final after %s: %.0f msg/s end to end; %v\n", len(ids), total.Round(time.Millisecond), float64(len(ids))/total.Seconds(), counts)
	return nil
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(10 * time.Microsecond)
}
