package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
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
	webhook       string
	keepWebhook   bool
	dbPIDs        []int
	dbCmd         string
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
	flag.IntVar(&o.serverPID, "server-pid", 0, "the server's process id, to report its and its plugin processes' CPU time per message (Linux /proc)")
	flag.StringVar(&o.webhook, "webhook", "", "listen for webhooks at this host:port, register it as the account's webhook, and report end-to-end figures from them")
	flag.BoolVar(&o.keepWebhook, "keep-webhook", false, "leave the webhook registered at the end (-webhook)")
	dbPIDs := flag.String("db-pids", "", "comma-separated database process ids (with their children), to report the database's CPU time per message")
	flag.StringVar(&o.dbCmd, "db-cmd", "", "count the CPU time of every process with this command name as the database's, e.g. postgres")
	flag.Parse()
	var err error
	if o.dbPIDs, err = parsePIDs(*dbPIDs); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
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
	// The first ctrl-C stops the run and prints what it has; a second one,
	// should cleanup hang, ends the program.
	context.AfterFunc(ctx, stop)
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

	meter, err := startMeter(o)
	if err != nil {
		return err
	}
	track := newTracker()
	if o.webhook != "" {
		stopWebhooks, err := startWebhooks(ctx, cl, o, track)
		if err != nil {
			return err
		}
		defer stopWebhooks()
	}
	meterCtx, stopMeter := context.WithCancel(ctx)
	var meterDone sync.WaitGroup
	defer meterDone.Wait()
	defer stopMeter()
	if meter != nil {
		meterDone.Go(func() { meter.run(meterCtx, time.Second) })
	}

	sendCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var next atomic.Int64
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, requests)
	ids := make([]string, 0, o.n)
	failures := map[string]int{}
	stamp := time.Now().UnixNano() // texts differ from any earlier run's
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
				acceptedAt := time.Now()
				d := acceptedAt.Sub(t0)
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
								track.accept(r.MessageID, acceptedAt)
							}
						}
					} else {
						ids = append(ids, a.MessageID)
						track.accept(a.MessageID, acceptedAt)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	what := "single sends"
	if o.bulk > 0 {
		what = fmt.Sprintf("bulk requests of %d", o.bulk)
	}
	fmt.Printf("accepted %d messages in %s: %.0f msg/s (%.0f requests/s), %s, %d senders\n", len(ids), elapsed.Round(time.Millisecond),
		float64(len(ids))/elapsed.Seconds(), float64(len(latencies))/elapsed.Seconds(), what, o.c)
	if len(latencies) > 0 {
		fmt.Printf("request latency p50 %s  p95 %s  p99 %s  max %s\n", pct(latencies, 50), pct(latencies, 95), pct(latencies, 99), pct(latencies, 100))
	}
	if o.serverPID > 0 && len(ids) > 0 {
		if err := meter.sample(); err != nil {
			return err
		}
		server := meter.used()[0].cpu
		fmt.Printf("server CPU %s: %.3f CPU-ms per message (%.0f%% of one core)\n", server.Round(time.Millisecond),
			perMessage(server, len(ids)), 100*server.Seconds()/elapsed.Seconds())
	}
	for f, k := range failures {
		fmt.Printf("refused %d: %s\n", k, f)
	}
	if o.webhook != "" {
		awaitWebhooks(ctx, track, o.wait)
		var uses []groupUse
		if meter != nil {
			if err := meter.sample(); err != nil {
				return err
			}
			uses = meter.used()
		}
		s := track.summarize()
		printSummary(os.Stdout, s, uses, time.Since(start))
		return s.check()
	}
	if o.wait <= 0 || len(ids) == 0 {
		return nil
	}
	return awaitFinal(ctx, cl, ids, o.wait, start)
}

// startMeter takes the first CPU sample of the server, its plugins and the
// database, or returns nil when none was asked for.
func startMeter(o options) (*cpuMeter, error) {
	var groups []procGroup
	if o.serverPID > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", o.serverPID)); err != nil {
			return nil, fmt.Errorf("read the server's CPU time (-server-pid %d): %w", o.serverPID, err)
		}
		groups = append(groups, serverGroups(o.serverPID)...)
	}
	if len(o.dbPIDs) > 0 || o.dbCmd != "" {
		groups = append(groups, databaseGroup(o.dbPIDs, o.dbCmd))
	}
	if len(groups) == 0 {
		return nil, nil
	}
	m := newCPUMeter(groups...)
	if err := m.sample(); err != nil {
		return nil, err
	}
	return m, nil
}

// startWebhooks listens at -webhook, registers the listener as the
// account's webhook and returns what undoes both.
func startWebhooks(ctx context.Context, cl *client, o options, track *tracker) (func(), error) {
	host, _, err := net.SplitHostPort(o.webhook)
	if ip := net.ParseIP(host); err != nil || host == "" || (ip != nil && ip.IsUnspecified()) {
		return nil, fmt.Errorf("-webhook %q: give a host:port the server can reach, such as 127.0.0.1:3199", o.webhook)
	}
	ln, err := net.Listen("tcp", o.webhook)
	if err != nil {
		return nil, fmt.Errorf("listen for webhooks: %w", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	url := "http://" + net.JoinHostPort(host, port) + "/hook"
	// Registered before serving: the listener queues connections, and no
	// request reaches the receiver before it knows the secret.
	secret, err := registerWebhook(ctx, cl, url)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/hook", &receiver{secret: secret, track: track, now: time.Now})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	var served sync.WaitGroup
	served.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "loadgen: webhook listener:", err)
		}
	})
	fmt.Printf("webhook %s registered\n", url)
	return func() {
		// The run's context may be cancelled (ctrl-C); cleanup still runs.
		cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if o.keepWebhook {
			fmt.Printf("webhook %s left registered (-keep-webhook)\n", url)
		} else if err := deleteWebhook(cleanup, cl); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		if err := srv.Shutdown(cleanup); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: stop the webhook listener:", err)
			srv.Close()
		}
		served.Wait()
	}, nil
}

// awaitWebhooks returns once every accepted message has a delivered or
// failed webhook, after wait, or when ctx ends.
func awaitWebhooks(ctx context.Context, track *tracker, wait time.Duration) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for {
		ended, accepted := track.progress()
		if ended >= accepted {
			return
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(os.Stderr, "interrupted: %d of %d messages have their final webhook\n", ended, accepted)
			return
		case <-deadline.C:
			fmt.Fprintf(os.Stderr, "gave up waiting after %s: %d of %d messages have their final webhook\n", wait, ended, accepted)
			return
		case <-track.changed:
		case <-progress.C:
			fmt.Fprintf(os.Stderr, "waiting for webhooks: %d of %d messages have their final webhook\n", ended, accepted)
		}
	}
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

func pct(sorted []time.Duration, p float64) time.Duration {
	return percentile(sorted, p).Round(10 * time.Microsecond)
}

func perMessage(cpu time.Duration, messages int) float64 {
	return float64(cpu.Microseconds()) / 1000 / float64(messages)
}
