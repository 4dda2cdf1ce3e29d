package routing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/routing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fakeState is a StateSource with fixed per-provider state; providers it
// does not list are healthy with no balance.
type fakeState map[string]routing.ProviderState

func (f fakeState) ProviderState(name string) routing.ProviderState {
	if s, ok := f[name]; ok {
		return s
	}
	return routing.ProviderState{Healthy: true, SuccessRate: 1}
}

func compile(t testing.TB, src string) *routing.Table {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "test.hcl", config.Options{BuiltinKinds: []string{"sandbox", "smpp", "android", "httpapi"}})
	if err != nil {
		t.Fatalf("config does not load:\n%v", err)
	}
	return cfg.Table
}

func providers(kind string, names ...string) string {
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "provider %q {\n  plugin = %q\n}\n", n, kind)
	}
	return b.String()
}

func names(p routing.Plan) []string {
	out := make([]string, len(p.Candidates))
	for i, c := range p.Candidates {
		out[i] = c.Provider
	}
	return out
}

var mm = routing.Facts{To: "+959791234567", Country: "MM", CallingCode: "95", Operator: "Telenor", NumberType: "mobile",
	Text: "Your code is 123456", Length: 19, Segments: 1, Encoding: "gsm7", Kind: "otp", Account: "acc_1"}

func TestStrategies(t *testing.T) {
	src := `
provider "a" {
  plugin = "smpp"
  pricing {
    default = 0.05
  }
}
provider "b" {
  plugin = "smpp"
  pricing {
    default   = 0.05
    countries = { MM = 0.02 }
  }
}
provider "c" {
  plugin = "smpp"
  pricing {
    default = 0.03
  }
}
provider "d" {
  plugin = "smpp"
}
route "failover" {
  match      = "kind == 'failover'"
  candidates = ["c", "a", "b"]
}
route "cheapest" {
  match      = "kind == 'cheap'"
  candidates = ["d", "a", "c", "b"]
  strategy   = "least_cost"
}
route "ties" {
  match      = "kind == 'ties' && country == 'US'"
  candidates = ["d", "b", "a"]
  strategy   = "least_cost"
}
route "default" {
  default    = true
  candidates = ["a", "b", "c"]
  strategy   = "round_robin"
}
`
	r := routing.NewRouter(compile(t, src), nil)
	tests := []struct {
		name  string
		facts routing.Facts
		want  []string
	}{
		{"failover keeps the listed order", routing.Facts{To: "+1", Country: "MM", Kind: "failover", Segments: 1}, []string{"c", "a", "b"}},
		{"least cost, unpriced last", routing.Facts{To: "+1", Country: "MM", Kind: "cheap", Segments: 2}, []string{"b", "c", "a", "d"}},
		{"least cost ties keep the listed order", routing.Facts{To: "+1", Country: "US", Kind: "ties", Segments: 1}, []string{"b", "a", "d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := r.Plan(t.Context(), tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(plan); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("candidates %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("round robin rotates the first candidate", func(t *testing.T) {
		var firsts []string
		for range 6 {
			plan, err := r.Plan(t.Context(), routing.Facts{To: "+1", Country: "US", Kind: "sms", Segments: 1})
			if err != nil {
				t.Fatal(err)
			}
			firsts = append(firsts, strings.Join(names(plan), ""))
		}
		if want := []string{"abc", "bca", "cab", "abc", "bca", "cab"}; !reflect.DeepEqual(firsts, want) {
			t.Errorf("plans %v, want %v", firsts, want)
		}
	})
}

func TestWeighted(t *testing.T) {
	src := providers("smpp", "a", "b", "c") + `
route "split" {
  default    = true
  candidates = ["a", "b", "c"]
  strategy   = "weighted"
  weights    = { a = 60, b = 30, c = 10 }
}
`
	r := routing.NewRouter(compile(t, src), nil)
	const n = 20000
	counts := map[string]int{}
	for i := range n {
		f := routing.Facts{MessageID: fmt.Sprintf("msg_%08d", i), To: "+14155552671", Country: "US", Segments: 1}
		plan, err := r.Plan(t.Context(), f)
		if err != nil {
			t.Fatal(err)
		}
		got := names(plan)
		counts[got[0]]++
		// The same message id always gets the same plan.
		again, _ := r.Plan(t.Context(), f)
		if !reflect.DeepEqual(names(again), got) {
			t.Fatalf("message %s: plan %v then %v", f.MessageID, got, names(again))
		}
		// Fallbacks keep the listed order.
		var rest []string
		for _, p := range []string{"a", "b", "c"} {
			if p != got[0] {
				rest = append(rest, p)
			}
		}
		if !reflect.DeepEqual(got[1:], rest) {
			t.Fatalf("plan %v: fallbacks not in listed order", got)
		}
	}
	// Each share within 1.5 points of its weight (about 5 standard
	// deviations at this sample size).
	for p, w := range map[string]float64{"a": 0.6, "b": 0.3, "c": 0.1} {
		if share := float64(counts[p]) / n; share < w-0.015 || share > w+0.015 {
			t.Errorf("provider %s got %.3f of messages, want %.2f (counts %v)", p, share, w, counts)
		}
	}
}

func TestFilters(t *testing.T) {
	src := `
routing {
  currency   = "USD"
  conversion = { EUR = 2 }
}
provider "android" {
  plugin = "android"
  pricing {
    default = 0
  }
}
provider "smpp-1" {
  plugin = "smpp"
  pricing {
    countries = { MM = 0.04 }
  }
}
provider "smpp-2" {
  plugin = "smpp"
  pricing {
    countries = { MM = 0.03 }
  }
}
route "mm" {
  match      = "country == 'MM'"
  candidates = ["android", "smpp-1", "smpp-2"]
  filter     = "healthy && success_rate >= 0.5 && latency < duration('2s') && (!has_balance || balance >= cost)"
  strategy   = "least_cost"
}
route "default" {
  default    = true
  candidates = ["smpp-1"]
  filter     = "healthy"
}
`
	table := compile(t, src)
	tests := []struct {
		name  string
		state fakeState
		facts routing.Facts
		want  []string
		route string
	}{
		{"all healthy, no balance known", nil, mm, []string{"android", "smpp-2", "smpp-1"}, "mm"},
		{"android down", fakeState{"android": {Healthy: false, SuccessRate: 1}}, mm, []string{"smpp-2", "smpp-1"}, "mm"},
		{"balance below cost drops smpp-2", fakeState{"smpp-2": {Healthy: true, HasBalance: true, Balance: 0.02, BalanceCurrency: "USD", SuccessRate: 1}},
			mm, []string{"android", "smpp-1"}, "mm"},
		// 0.02 EUR is 0.04 USD: enough for one segment at 0.03.
		{"balance converted from EUR", fakeState{"smpp-2": {Healthy: true, HasBalance: true, Balance: 0.02, BalanceCurrency: "EUR", SuccessRate: 1}},
			mm, []string{"android", "smpp-2", "smpp-1"}, "mm"},
		{"cost counts every segment", fakeState{"smpp-2": {Healthy: true, HasBalance: true, Balance: 0.05, BalanceCurrency: "USD", SuccessRate: 1}},
			withSegments(mm, 2), []string{"android", "smpp-1"}, "mm"},
		{"poor success rate and slow", fakeState{"android": {Healthy: true, SuccessRate: 0.2}, "smpp-2": {Healthy: true, SuccessRate: 1, Latency: 3 * time.Second}},
			mm, []string{"smpp-1"}, "mm"},
		{"every candidate dropped: the next route takes it", fakeState{"android": {}, "smpp-2": {}, "smpp-1": {Healthy: true, SuccessRate: 0.1}},
			mm, []string{"smpp-1"}, "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var state routing.StateSource
			if tc.state != nil {
				state = tc.state
			}
			plan, err := routing.NewRouter(table, state).Plan(t.Context(), tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Route != tc.route || !reflect.DeepEqual(names(plan), tc.want) {
				t.Errorf("plan %s %v, want %s %v", plan.Route, names(plan), tc.route, tc.want)
			}
		})
	}

	t.Run("nothing left anywhere", func(t *testing.T) {
		down := fakeState{"android": {}, "smpp-1": {}, "smpp-2": {}}
		_, err := routing.NewRouter(table, down).Plan(t.Context(), mm)
		var nr *routing.NoRouteError
		if !errors.As(err, &nr) || err.Error() != "no route for +959791234567 (country MM)" {
			t.Errorf("err = %v, want *NoRouteError", err)
		}
	})
}

func withSegments(f routing.Facts, n int) routing.Facts {
	f.Segments = n
	return f
}

func TestRuleErrorsCountAsNoMatch(t *testing.T) {
	src := providers("smpp", "a", "b") + `
route "priority" {
  match      = "int(tags.priority) >= 5"
  candidates = ["a"]
}
route "default" {
  default    = true
  candidates = ["a", "b"]
  filter     = "provider == 'b' || int(tags.weight) > 0"
}
`
	var logs bytes.Buffer
	var mu sync.Mutex
	log := hclog.New(&hclog.LoggerOptions{Output: &lockedWriter{w: &logs, mu: &mu}, Level: hclog.Warn})
	r := routing.NewRouter(compile(t, src), nil, routing.WithLogger(log))
	before := routing.RuleErrors()

	plan, err := r.Plan(t.Context(), routing.Facts{To: "+1", Country: "US", Tags: map[string]string{"priority": "7"}})
	if err != nil || plan.Route != "priority" {
		t.Fatalf("with the tag: %+v, %v", plan, err)
	}
	for range 5 {
		plan, err = r.Plan(t.Context(), routing.Facts{To: "+1", Country: "US"})
		if err != nil || plan.Route != "default" || !reflect.DeepEqual(names(plan), []string{"b"}) {
			t.Fatalf("without the tag: %+v, %v", plan, err)
		}
	}
	// Each of the 5 decisions: the match fails, then the filter fails for a
	// (a missing tag reads as "", which int() refuses).
	if got := r.RuleErrors(); got != 10 {
		t.Errorf("router counted %d rule errors, want 10", got)
	}
	if got := routing.RuleErrors() - before; got != 10 {
		t.Errorf("process counted %d rule errors, want 10", got)
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, "routing rule failed; counted as not matching") || !strings.Contains(out, "route=priority") {
		t.Errorf("log lacks the rule error:\n%s", out)
	}
	// Logged at the 1st, 2nd, 4th and 8th failure of the process at most,
	// not ten times.
	if n := strings.Count(out, "routing rule failed"); n == 0 || n >= 10 {
		t.Errorf("logged %d times:\n%s", n, out)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestFunctionsAndTime(t *testing.T) {
	src := providers("smpp", "night", "prefixed", "weekend", "other") + `
routing {
  timezone = "Asia/Yangon"
}
route "prefixed" {
  match      = "prefix(to, '+95979', '+95997') && sender matches '^[A-Z]+$'"
  candidates = ["prefixed"]
}
route "night" {
  match      = "between(hour, 22, 6)"
  candidates = ["night"]
}
route "weekend" {
  match      = "weekday in ['sat', 'sun'] && 'vip' in tags"
  candidates = ["weekend"]
}
route "default" {
  default    = true
  candidates = ["other"]
}
`
	table := compile(t, src)
	at := func(utc string) *routing.Router {
		ts, err := time.Parse(time.RFC3339, utc)
		if err != nil {
			t.Fatal(err)
		}
		return routing.NewRouter(table, nil, routing.WithClock(func() time.Time { return ts }))
	}
	tests := []struct {
		name   string
		router *routing.Router
		facts  routing.Facts
		want   string
	}{
		// Yangon is UTC+6:30.
		{"23:30 local is night", at("2025-06-04T17:00:00Z"), routing.Facts{To: "+14155552671"}, "night"},
		{"05:59 local is night", at("2025-06-04T23:29:00Z"), routing.Facts{To: "+14155552671"}, "night"},
		{"06:00 local is day", at("2025-06-04T23:30:00Z"), routing.Facts{To: "+14155552671"}, "default"},
		{"prefix and regex", at("2025-06-04T06:00:00Z"), routing.Facts{To: "+959971234567", Sender: "ACME"}, "prefixed"},
		{"regex fails", at("2025-06-04T06:00:00Z"), routing.Facts{To: "+959971234567", Sender: "acme"}, "default"},
		{"saturday with the vip tag", at("2025-06-07T06:00:00Z"), routing.Facts{To: "+1", Tags: map[string]string{"vip": ""}}, "weekend"},
		{"saturday without it", at("2025-06-07T06:00:00Z"), routing.Facts{To: "+1"}, "default"},
	}
	for _, tc := range tests {
		plan, err := tc.router.Plan(t.Context(), tc.facts)
		if err != nil || plan.Route != tc.want {
			t.Errorf("%s: route %q, %v; want %q", tc.name, plan.Route, err, tc.want)
		}
	}
}

// TestCountryIndexAgreesWithExplain checks that the fast path, which skips
// routes whose country constraint excludes the message, decides exactly as
// the explanation, which evaluates every route in order.
func TestCountryIndexAgreesWithExplain(t *testing.T) {
	src := providers("smpp", "a", "b", "c", "d", "e") + `
route "de-or-otp" {
  match      = "country == 'DE' || kind == 'otp'"
  candidates = ["a"]
}
route "fr-it" {
  match      = "country in ['FR', 'IT'] && segments < 3"
  candidates = ["b"]
}
route "mm-and-th" {
  match      = "(country == 'MM' && kind == 'sms') || country == 'TH'"
  candidates = ["c"]
}
route "never" {
  match      = "country == 'MM' && country == 'TH'"
  candidates = ["d"]
}
route "default" {
  default    = true
  candidates = ["e"]
}
`
	r := routing.NewRouter(compile(t, src), nil)
	for _, country := range []string{"DE", "FR", "IT", "MM", "TH", "US", ""} {
		for _, kind := range []string{"sms", "otp"} {
			for _, segs := range []int{1, 4} {
				f := routing.Facts{To: "+1", Country: country, Kind: kind, Segments: segs}
				plan, err := r.Plan(t.Context(), f)
				ex := r.Explain(t.Context(), f)
				if err != nil || plan.Route != ex.Route || !reflect.DeepEqual(names(plan), ex.Candidates) {
					t.Errorf("%+v: plan %s %v (%v), explain %s %v", f, plan.Route, names(plan), err, ex.Route, ex.Candidates)
				}
			}
		}
	}
}

func TestCancelledAndNilTable(t *testing.T) {
	r := routing.NewRouter(compile(t, providers("smpp", "a")+"route \"default\" {\n  default = true\n  candidates = [\"a\"]\n}\n"), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Plan(ctx, mm); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var nilTable *routing.Table
	var nr *routing.NoRouteError
	if _, err := nilTable.Plan(t.Context(), mm); !errors.As(err, &nr) {
		t.Errorf("nil table: err = %v, want *NoRouteError", err)
	}
}

func TestSwapUnderLoad(t *testing.T) {
	old := compile(t, providers("smpp", "a", "b")+"route \"default\" {\n  default = true\n  candidates = [\"a\"]\n}\n")
	cur := compile(t, providers("smpp", "a", "b")+"route \"new\" {\n  default = true\n  candidates = [\"b\", \"a\"]\n}\n")
	r := routing.NewRouter(old, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				plan, err := r.Plan(context.Background(), mm)
				switch {
				case err != nil:
					t.Error(err)
					return
				case plan.Route == "default" && reflect.DeepEqual(names(plan), []string{"a"}):
				case plan.Route == "new" && reflect.DeepEqual(names(plan), []string{"b", "a"}):
				default:
					t.Errorf("mixed plan %+v", plan)
					return
				}
			}
		})
	}
	for i := range 200 {
		if i%2 == 0 {
			r.Swap(cur)
		} else {
			r.Swap(old)
		}
	}
	close(stop)
	wg.Wait()
	if r.Table() != old {
		t.Error("Table() is not the last swapped-in table")
	}
}

func TestExplainGolden(t *testing.T) {
	src := `
routing {
  timezone          = "Asia/Yangon"
  currency          = "USD"
  conversion        = { EUR = 1.1 }
  operator_prefixes = { "+959790" = "Ooredoo" }
}
provider "android-mm" {
  plugin = "android"
  pricing {
    default = 0
  }
}
provider "smpp-asia-1" {
  plugin = "smpp"
  pricing {
    currency  = "EUR"
    countries = { MM = 0.03 }
  }
}
provider "smpp-asia-2" {
  plugin = "smpp"
  pricing {
    countries = { MM = 0.035 }
    operators = { "MM/Ooredoo" = 0.031 }
  }
}
provider "aggregator" {
  plugin = "httpapi"
}
route "eu" {
  match      = "country in ['DE', 'FR']"
  candidates = ["aggregator"]
}
route "vip" {
  match      = "int(tags.tier) > 2"
  candidates = ["smpp-asia-1"]
}
route "mm-otp" {
  match      = "country == 'MM' && kind == 'otp'"
  candidates = ["android-mm", "smpp-asia-1", "smpp-asia-2"]
  filter     = "healthy && (!has_balance || balance >= cost)"
  strategy   = "least_cost"
}
route "default" {
  default    = true
  candidates = ["aggregator"]
}
`
	state := fakeState{
		"android-mm":  {Healthy: false, SuccessRate: 0.4, Latency: 1200 * time.Millisecond},
		"smpp-asia-1": {Healthy: true, HasBalance: true, Balance: 0.01, BalanceCurrency: "EUR", SuccessRate: 0.98, Latency: 80 * time.Millisecond},
		"smpp-asia-2": {Healthy: true, HasBalance: true, Balance: 12.5, BalanceCurrency: "USD", SuccessRate: 1, Latency: 95 * time.Millisecond},
	}
	clock := func() time.Time { return time.Date(2025, 6, 3, 7, 0, 0, 0, time.UTC) }
	r := routing.NewRouter(compile(t, src), state, routing.WithClock(clock))
	f := routing.Facts{MessageID: "msg_1", To: "+959790123456", Country: "MM", CallingCode: "95", Operator: "Telenor",
		NumberType: "mobile", Text: "Your code is 123456", Length: 19, Segments: 1, Encoding: "gsm7", Kind: "otp", Account: "acc_1"}
	ex := r.Explain(t.Context(), f)
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ex); err != nil {
		t.Fatal(err)
	}
	golden(t, "explain.txt", []byte(ex.Text()))
	golden(t, "explain.json", js.Bytes())
	if ex.Route != "mm-otp" || !reflect.DeepEqual(ex.Candidates, []string{"smpp-asia-2"}) {
		t.Errorf("choice %s %v", ex.Route, ex.Candidates)
	}

	// The last route says no route is left rather than "trying the next
	// route", and a heredoc filter keeps its indentation.
	none := routing.NewRouter(compile(t, providers("smpp", "a")+"route \"default\" {\n  default = true\n  candidates = [\"a\"]\n"+
		"  filter = <<-EOT\n    healthy &&\n      success_rate >= 0\n  EOT\n}\n"),
		fakeState{"a": {}}, routing.WithClock(clock)).Explain(t.Context(), f)
	golden(t, "explain_none.txt", []byte(none.Text()))
	if none.Error != "no route for +959790123456 (country MM)" || len(none.Candidates) != 0 {
		t.Errorf("no-route explanation: %+v", none)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// The weighted draw shows in the explanation: the weights, the value drawn
// and what it was drawn from, and the draw picks the first candidate as
// Plan does.
func TestExplainShowsWeightedDraw(t *testing.T) {
	src := providers("smpp", "a", "b") + `
route "split" {
  default    = true
  candidates = ["a", "b"]
  strategy   = "weighted"
  weights    = { a = 70, b = 30 }
}
`
	r := routing.NewRouter(compile(t, src), nil)
	firsts := map[string]bool{}
	for i := range 50 {
		f := mm
		f.MessageID = fmt.Sprintf("msg_%d", i)
		ex := r.Explain(t.Context(), f)
		rt := ex.Routes[0]
		if rt.Draw == nil || rt.Draw.Total != 100 || rt.Draw.Key != f.MessageID || !rt.Draw.KeyIsMessageID ||
			!reflect.DeepEqual(rt.Weights, map[string]int{"a": 70, "b": 30}) {
			t.Fatalf("draw %+v weights %v", rt.Draw, rt.Weights)
		}
		want := "b"
		if rt.Draw.Value < 70 {
			want = "a"
		}
		plan, _ := r.Plan(t.Context(), f)
		if ex.Candidates[0] != want || names(plan)[0] != want {
			t.Fatalf("draw %d: explain %v, plan %v, want %s first", rt.Draw.Value, ex.Candidates, names(plan), want)
		}
		if !strings.Contains(ex.Text(), fmt.Sprintf("draw    %d of 100 from message id %q, weights a=70 b=30", rt.Draw.Value, f.MessageID)) {
			t.Fatalf("text does not show the draw:\n%s", ex.Text())
		}
		firsts[want] = true
	}
	if len(firsts) != 2 {
		t.Errorf("50 message ids all drew %v", firsts)
	}
}

// ExplainWhatIf decides with the balances, health, success rates and time
// an operator gives, on top of the live state.
func TestExplainWhatIf(t *testing.T) {
	src := `
routing {
  timezone = "Asia/Yangon"
}
provider "a" {
  plugin = "smpp"
  pricing { default = 0.05 }
}
provider "b" {
  plugin = "smpp"
  pricing { default = 0.04 }
}
route "night" {
  match      = "local_time >= '22:30' || hour < 6"
  candidates = ["a"]
}
route "otp" {
  match      = "kind == 'otp'"
  candidates = ["a", "b"]
  filter     = "healthy && has_balance && balance > 50 && success_rate >= 0.8"
  strategy   = "least_cost"
}
route "default" {
  default    = true
  candidates = ["a"]
}
`
	live := fakeState{"b": {Healthy: true, HasBalance: true, Balance: 100, SuccessRate: 1}}
	noon := func() time.Time { return time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC) } // 12:00 in Yangon
	r := routing.NewRouter(compile(t, src), live, routing.WithClock(noon))
	yes, no := true, false
	sixty, forty, poor := 60.0, 40.0, 0.5
	tests := []struct {
		name string
		w    routing.WhatIf
		want []string
	}{
		{"live state", routing.WhatIf{}, []string{"b"}},
		{"balances given", routing.WhatIf{Providers: map[string]routing.ProviderPatch{"a": {Balance: &sixty}}}, []string{"b", "a"}},
		{"one unhealthy", routing.WhatIf{Providers: map[string]routing.ProviderPatch{"a": {Balance: &sixty}, "b": {Healthy: &no}}}, []string{"a"}},
		{"balance too low", routing.WhatIf{Providers: map[string]routing.ProviderPatch{"b": {Balance: &forty}}}, []string{"a"}},
		{"poor success rate", routing.WhatIf{Providers: map[string]routing.ProviderPatch{"a": {Balance: &sixty, Healthy: &yes}, "b": {SuccessRate: &poor}}}, []string{"a"}},
		{"late evening local time", routing.WhatIf{At: time.Date(2026, 12, 7, 23, 10, 0, 0, time.FixedZone("", 6*3600+1800))}, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := r.ExplainWhatIf(t.Context(), mm, tt.w)
			if !reflect.DeepEqual(ex.Candidates, tt.want) {
				t.Errorf("candidates %v, want %v\n%s", ex.Candidates, tt.want, ex.Text())
			}
		})
	}
}

// TestProviderNetworks: a filter keeps a message on its recipient's
// network with provider_operators, and lets providers that do not say
// (no networks reported) through.
func TestProviderNetworks(t *testing.T) {
	src := providers("android", "phones", "modems") + providers("smpp", "smpp-1") + `
route "mm" {
  match      = "country == 'MM'"
  candidates = ["phones", "modems", "smpp-1"]
  filter     = "len(provider_operators) == 0 || (operator in provider_operators && country in provider_countries)"
}
route "default" {
  default    = true
  candidates = ["smpp-1"]
}
`
	table := compile(t, src)
	state := fakeState{
		"phones": {Healthy: true, SuccessRate: 1, Operators: []string{"Ooredoo"}, Countries: []string{"MM"}},
		"modems": {Healthy: true, SuccessRate: 1, Operators: []string{"Ooredoo", "Telenor"}, Countries: []string{"MM"}},
	}
	plan, err := routing.NewRouter(table, state).Plan(t.Context(), mm) // a Telenor number
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(plan), []string{"modems", "smpp-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("plan %v, want %v", got, want)
	}
	ex := routing.NewRouter(table, state).Explain(t.Context(), mm)
	var seen bool
	for _, r := range ex.Routes {
		for _, c := range r.Candidates {
			if c.Provider == "phones" {
				seen = reflect.DeepEqual(c.Values["provider_operators"], []string{"Ooredoo"})
			}
		}
	}
	if !seen {
		t.Errorf("explanation does not show phones' provider_operators: %+v", ex)
	}
	// What if a Telenor SIM came online in the phones and the modems
	// lost theirs (networks patched as route explain --operators does)?
	ex = routing.NewRouter(table, state).ExplainWhatIf(t.Context(), mm, routing.WhatIf{Providers: map[string]routing.ProviderPatch{
		"phones": {Operators: []string{"Telenor"}}, "modems": {Operators: []string{}, Countries: []string{}}}})
	if want := []string{"phones", "modems", "smpp-1"}; !reflect.DeepEqual(ex.Candidates, want) {
		t.Errorf("what-if networks: candidates %v, want %v\n%s", ex.Candidates, want, ex.Text())
	}
}

// TestNoRouteSaysWhenOnlyRefusingGatewaysWereDropped: a filter on health
// that drops only gateways that are down and refuse while down marks the
// NoRouteError Refused, so the API can answer "No gateway online"; any
// other provider dropped (or none matched) leaves it unset.
func TestNoRouteSaysWhenOnlyRefusingGatewaysWereDropped(t *testing.T) {
	src := providers("android", "phones-1", "phones-2") + `
route "mm" {
  match      = "country == 'MM'"
  candidates = ["phones-1", "phones-2"]
  filter     = "healthy"
}
route "default" {
  default    = true
  candidates = ["phones-1"]
  filter     = "healthy"
}
`
	table := compile(t, src)
	refusing := routing.ProviderState{Healthy: false, RefuseWhileDown: true}
	tests := []struct {
		name  string
		state fakeState
		want  bool
	}{
		{"every gateway down and refusing", fakeState{"phones-1": refusing, "phones-2": refusing}, true},
		{"one down without refusing", fakeState{"phones-1": refusing, "phones-2": {Healthy: false}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := routing.NewRouter(table, tc.state).Plan(t.Context(), mm)
			var nr *routing.NoRouteError
			if !errors.As(err, &nr) || nr.Refused != tc.want {
				t.Errorf("Plan error %#v, want a *NoRouteError with Refused %v", err, tc.want)
			}
		})
	}
}
