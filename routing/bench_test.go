package routing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/routing"
)

// benchConfig is a realistic large table: 20 SMPP/HTTP providers with a
// price for each of 200 countries, 100 routes (per-country least-cost
// routes with a balance and health filter, OTP routes, operator routes and
// weighted splits), and a default.
func benchConfig() string {
	regions := phonenumbers.GetSupportedRegions()
	countries := make([]string, 0, len(regions))
	for r := range regions {
		countries = append(countries, r)
	}
	sort.Strings(countries)
	countries = countries[:200]

	var b strings.Builder
	b.WriteString("routing {\n  currency = \"USD\"\n  conversion = { EUR = 1.08 }\n  timezone = \"Asia/Yangon\"\n}\n")
	for p := range 20 {
		fmt.Fprintf(&b, "provider \"p%02d\" {\n  plugin = \"smpp\"\n  pricing {\n", p)
		if p%2 == 1 {
			b.WriteString("    currency = \"EUR\"\n")
		}
		b.WriteString("    default = 0.09\n    countries = {\n")
		for i, c := range countries {
			fmt.Fprintf(&b, "      %s = %.4f\n", c, 0.01+float64((i*7+p*13)%97)/1000)
		}
		b.WriteString("    }\n  }\n}\n")
	}
	// The five countries the benchmark sends to get routes of each kind,
	// spread through the table; the other routes cover other countries.
	special := map[int]string{
		15: "route \"mm-otp\" {\n  match = \"country == 'MM' && kind == 'otp'\"\n  candidates = [\"p01\", \"p02\", \"p03\"]\n  filter = \"healthy && (!has_balance || balance >= cost)\"\n  strategy = \"least_cost\"\n}\n",
		35: "route \"eu\" {\n  match = \"country in ['DE', 'FR', 'IT', 'ES', 'NL']\"\n  candidates = [\"p04\", \"p05\", \"p06\"]\n  filter = \"healthy && success_rate > 0.9\"\n  strategy = \"least_cost\"\n}\n",
		55: "route \"us\" {\n  match = \"country == 'US' && segments <= 4\"\n  candidates = [\"p07\", \"p08\"]\n  strategy = \"weighted\"\n  weights = { p07 = 70, p08 = 30 }\n}\n",
		75: "route \"jp-kddi\" {\n  match = \"country == 'JP' && operator == 'KDDI'\"\n  candidates = [\"p09\", \"p10\"]\n  filter = \"healthy\"\n}\n",
	}
	skip := map[string]bool{"MM": true, "DE": true, "FR": true, "IT": true, "ES": true, "NL": true, "US": true, "JP": true}
	others := countries[:0:0]
	for _, c := range countries {
		if !skip[c] {
			others = append(others, c)
		}
	}
	for r := range 98 {
		if route, ok := special[r]; ok {
			b.WriteString(route)
			continue
		}
		c, c2 := others[(r*2)%len(others)], others[(r*2+1)%len(others)]
		a, z := r%20, (r+7)%20
		switch r % 4 {
		case 0:
			fmt.Fprintf(&b, "route \"r%d\" {\n  match = \"country == '%s' && kind == 'otp'\"\n  candidates = [\"p%02d\", \"p%02d\"]\n  filter = \"healthy\"\n}\n", r, c, a, z)
		case 1:
			fmt.Fprintf(&b, "route \"r%d\" {\n  match = \"country in ['%s', '%s']\"\n  candidates = [\"p%02d\", \"p%02d\", \"p%02d\"]\n  filter = \"healthy && (!has_balance || balance >= cost)\"\n  strategy = \"least_cost\"\n}\n", r, c, c2, a, z, (a+3)%20)
		case 2:
			fmt.Fprintf(&b, "route \"r%d\" {\n  match = \"country == '%s' && operator == 'Telenor'\"\n  candidates = [\"p%02d\", \"p%02d\"]\n}\n", r, c, a, z)
		default:
			fmt.Fprintf(&b, "route \"r%d\" {\n  match = \"country == '%s' && segments <= 3\"\n  candidates = [\"p%02d\", \"p%02d\"]\n  strategy = \"weighted\"\n  weights = { p%02d = 70, p%02d = 30 }\n}\n", r, c, a, z, a, z)
		}
	}
	// Rules without a country test every message: a kind and an hour rule.
	b.WriteString("route \"marketing-night\" {\n  match = \"kind == 'marketing' && between(hour, 22, 7)\"\n  candidates = [\"p11\"]\n}\n")
	b.WriteString("route \"default\" {\n  default = true\n  candidates = [\"p00\", \"p01\", \"p02\"]\n  strategy = \"least_cost\"\n}\n")
	return b.String()
}

type benchState struct{}

func (benchState) ProviderState(string) routing.ProviderState {
	return routing.ProviderState{Healthy: true, HasBalance: true, Balance: 120, BalanceCurrency: "EUR", SuccessRate: 0.99}
}

// BenchmarkDecision measures one full decision as core makes it: number
// facts (cached parse), segment count, then the route decision with live
// provider state.
func BenchmarkDecision(b *testing.B) { benchDecision(b, false) }

// BenchmarkDecisionKeepingWhy is BenchmarkDecision as accepting a message
// makes it: recording the decision's Why and encoding it as it is stored.
func BenchmarkDecisionKeepingWhy(b *testing.B) { benchDecision(b, true) }

func benchDecision(b *testing.B, keepWhy bool) {
	cfg, err := config.Parse([]byte(benchConfig()), "bench.hcl", config.Options{BuiltinKinds: []string{"smpp"}})
	if err != nil {
		b.Fatal(err)
	}
	r := routing.NewRouter(cfg.Table, benchState{})
	if n := len(cfg.Table.Routes()); n != 100 {
		b.Fatalf("%d routes", n)
	}
	tos := []string{"+959791234567", "+4915123456789", "+14155552671", "+33612345678", "+819012345678"}
	const text = "Your code is 123456"
	ctx := context.Background()
	for _, to := range tos {
		if _, err := number.Parse(to); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		to := tos[i%len(tos)]
		i++
		num, err := number.Parse(to)
		if err != nil {
			b.Fatal(err)
		}
		enc, segs := segment.Count(text)
		f := routing.Facts{MessageID: "msg_0123456789", To: num.E164, Country: num.Country, CallingCode: num.CallingCode,
			Operator: num.Operator, NumberType: num.Type, Text: text, Length: utf8.RuneCountInString(text),
			Segments: segs, Encoding: enc, Kind: "otp", Account: "acc_1", KeepWhy: keepWhy}
		plan, err := r.Plan(ctx, f)
		if err != nil {
			b.Fatal(err)
		}
		if keepWhy {
			if _, err := json.Marshal(plan.Why); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecisionHeld measures a decision whose route holds the message
// (quiet hours, the recipient's zone), the dearest case of a hold: the
// zone lookup, the window's end and its reason.
func BenchmarkDecisionHeld(b *testing.B) {
	src := `
routing {
  timezone = "Asia/Yangon"
}
provider "a" {
  plugin = "smpp"
}
route "marketing" {
  match      = "kind == 'marketing'"
  candidates = ["a"]
  quiet_hours {
    from = "00:00"
    to   = "23:59"
    zone = "recipient"
  }
}
route "default" {
  default    = true
  candidates = ["a"]
}
`
	cfg, err := config.Parse([]byte(src), "bench.hcl", config.Options{BuiltinKinds: []string{"smpp"}})
	if err != nil {
		b.Fatal(err)
	}
	r := routing.NewRouter(cfg.Table, benchState{})
	f := routing.Facts{MessageID: "msg_0123456789", To: "+959791234567", Country: "MM", Operator: "Telenor", Kind: "marketing", Segments: 1}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Plan(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}
