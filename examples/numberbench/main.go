package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type options struct {
	urls      []string
	key       string
	adminKey  string
	country   string
	c, n      int
	seed      int
	bearer    bool
	countryID int
}

func main() {
	var o options
	urls := flag.String("url", "http://127.0.0.1:3005", "smsrouter base URL; several, comma-separated, for servers sharing one database")
	flag.StringVar(&o.key, "key", os.Getenv("SMSROUTER_KEY"), "API key of the account numbers are assigned to, with receive_sms (or SMSROUTER_KEY)")
	flag.StringVar(&o.adminKey, "admin-key", "", "system_admin key for -seed (default: -key)")
	flag.StringVar(&o.country, "country", "US", "ISO code of the country to ask numbers of (looked up in GET /api/init)")
	flag.IntVar(&o.c, "c", 50, "concurrent clients")
	flag.IntVar(&o.n, "n", 0, "assignments to make at most (0: until no number is left)")
	flag.IntVar(&o.seed, "seed", 0, "add this many US numbers to the inventory first (needs a system_admin key)")
	flag.BoolVar(&o.bearer, "bearer", false, "send the key as Authorization: Bearer instead of in the path")
	flag.Parse()
	o.urls = strings.Split(*urls, ",")
	if o.adminKey == "" {
		o.adminKey = o.key
	}
	if o.key == "" || o.c < 1 || o.n < 0 || o.seed < 0 {
		fmt.Fprintln(os.Stderr, "numberbench: give an API key with -key or SMSROUTER_KEY; -c at least 1, -n and -seed not negative")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	r, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "numberbench:", err)
		os.Exit(1)
	}
	r.print(os.Stdout)
	if len(r.twice) > 0 || r.failed > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (*result, error) {
	cl := &client{http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.c}}, bearer: o.bearer}
	if o.seed > 0 {
		if err := seed(ctx, cl, o.urls[0], o.adminKey, o.seed, o.c); err != nil {
			return nil, err
		}
	}
	id, err := cl.countryID(ctx, o.urls[0], o.key, o.country)
	if err != nil {
		return nil, err
	}
	o.countryID = id
	return assignAll(ctx, cl, o), nil
}

// seedNumber is the i-th number -seed adds: ten thousand per area code
// from 201.
func seedNumber(i int) string { return fmt.Sprintf("+1%03d555%04d", 201+i/10000, i%10000) }

// seed adds n numbers with c requests at a time.
func seed(ctx context.Context, cl *client, base, key string, n, c int) error {
	next := make(chan int)
	errs := make(chan error, c)
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for i := range next {
				body := fmt.Sprintf(`{"number":%q,"provider":"numberbench"}`, seedNumber(i))
				status, b, err := cl.do(ctx, http.MethodPost, base+"/api/v1/admin/numbers", key, body)
				if err == nil && status != http.StatusCreated && status != http.StatusConflict {
					err = fmt.Errorf("add %s: HTTP %d %s", seedNumber(i), status, b)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range n {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	return errors.Join(err, <-errs)
}

type client struct {
	http   *http.Client
	bearer bool
}

func (c *client) do(ctx context.Context, method, url, key, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// seedPath is the seed API's path for endpoint, with the key in it
// unless the key goes in the header.
func (c *client) seedPath(base, endpoint, key string) string {
	if c.bearer {
		return base + "/api/" + endpoint
	}
	return base + "/api/" + endpoint + "/" + key
}

// countryID looks the country's numeric id up in GET /api/init.
func (c *client) countryID(ctx context.Context, base, key, iso string) (int, error) {
	status, b, err := c.do(ctx, http.MethodGet, c.seedPath(base, "init", key), key, "")
	if err != nil {
		return 0, fmt.Errorf("GET /api/init: %w", err)
	}
	var body struct {
		Data struct {
			Countries []struct {
				ID   int    `json:"id"`
				Code string `json:"code"`
			} `json:"countries"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &body); err != nil || status != http.StatusOK {
		return 0, fmt.Errorf("GET /api/init: HTTP %d %s", status, b)
	}
	for _, x := range body.Data.Countries {
		if strings.EqualFold(x.Code, iso) {
			return x.ID, nil
		}
	}
	return 0, fmt.Errorf("GET /api/init lists no country %s: the inventory has no number of it (add some with -seed)", iso)
}

// getNumber makes one assignment: the number, or "" when none is left.
func (c *client) getNumber(ctx context.Context, base, key string, countryID int) (string, error) {
	url := fmt.Sprintf("%s?country_id=%d", c.seedPath(base, "get-number", key), countryID)
	status, b, err := c.do(ctx, http.MethodGet, url, key, "")
	if err != nil {
		return "", err
	}
	var body struct {
		Data struct {
			PhoneNumber string `json:"phone_number"`
		} `json:"data"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &body)
	switch {
	case status == http.StatusOK && body.Data.PhoneNumber != "":
		return body.Data.PhoneNumber, nil
	case status == http.StatusNotFound && body.Message == "No number received":
		return "", nil
	}
	return "", fmt.Errorf("get-number: HTTP %d %s", status, b)
}

// assignAll runs o.c clients, spread over the servers, until no number is
// left, o.n are assigned (and the requests then in flight answered) or ctx
// ends.
func assignAll(ctx context.Context, cl *client, o options) *result {
	r := &result{clients: o.c, servers: len(o.urls), byNumber: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// Reaching -n stops new requests but lets those in flight finish:
	// cancelling them would leave numbers the server assigned uncounted.
	var enough atomic.Bool
	start := time.Now()
	for w := range o.c {
		base := o.urls[w%len(o.urls)]
		wg.Go(func() {
			for ctx.Err() == nil && !enough.Load() {
				t0 := time.Now()
				number, err := cl.getNumber(ctx, base, o.key, o.countryID)
				took := time.Since(t0)
				mu.Lock()
				if r.record(number, took, err, o.n) {
					enough.Store(true)
				}
				mu.Unlock()
				if err != nil || number == "" {
					return
				}
			}
		})
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

type result struct {
	clients, servers int
	assigned, failed int
	empty            bool
	byNumber         map[string]int
	twice            []string
	latencies        []time.Duration
	elapsed          time.Duration
	firstErr         error
}

// record counts one answer and says whether -n is reached.
func (r *result) record(number string, took time.Duration, err error, limit int) bool {
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		r.failed++
		if r.firstErr == nil {
			r.firstErr = err
		}
	case err != nil:
	case number == "":
		r.empty = true
	default:
		r.assigned++
		r.latencies = append(r.latencies, took)
		if r.byNumber[number]++; r.byNumber[number] == 2 {
			r.twice = append(r.twice, number)
		}
	}
	return limit > 0 && r.assigned >= limit
}

func (r *result) print(w io.Writer) {
	rate := float64(r.assigned) / r.elapsed.Seconds()
	fmt.Fprintf(w, "assigned %d numbers in %s with %d clients on %d server(s): %.0f assignments/s\n",
		r.assigned, r.elapsed.Round(time.Millisecond), r.clients, r.servers, rate)
	if len(r.latencies) > 0 {
		slices.Sort(r.latencies)
		q := func(p float64) time.Duration {
			return r.latencies[int(p*float64(len(r.latencies)-1))].Round(10 * time.Microsecond)
		}
		fmt.Fprintf(w, "latency p50 %s p95 %s p99 %s max %s\n", q(0.5), q(0.95), q(0.99), q(1))
	}
	if r.empty {
		fmt.Fprintln(w, "the inventory ran out (404 No number received)")
	}
	fmt.Fprintf(w, "handed out twice: %d %v\n", len(r.twice), r.twice)
	if r.failed > 0 {
		fmt.Fprintf(w, "failed requests: %d, the first: %v\n", r.failed, r.firstErr)
	}
}
