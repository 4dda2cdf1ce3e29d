package config_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/routing"
)

func TestRoutingFile(t *testing.T) {
	cfg, err := config.Load("testdata/good/routing.hcl", opts())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Routing.Location == nil || cfg.Routing.Location.String() != "Asia/Yangon" || cfg.Routing.Currency != "USD" ||
		!reflect.DeepEqual(cfg.Routing.Conversion, map[string]float64{"EUR": 1.08}) {
		t.Errorf("routing = %+v", cfg.Routing)
	}
	if want := map[string]string{"+95979": "Telenor", "+959790": "Ooredoo"}; !reflect.DeepEqual(cfg.Routing.OperatorPrefixes, want) {
		t.Errorf("operator prefixes = %v, want %v", cfg.Routing.OperatorPrefixes, want)
	}
	byName := map[string]config.Provider{}
	for _, p := range cfg.Providers {
		byName[p.Name] = p
	}
	if l := byName["android-mm"].Limits; l != (config.Limits{TPS: 0.5, Concurrency: 1}) {
		t.Errorf("android-mm limits = %+v", l)
	}
	if l := byName["smpp-asia"].Limits; l != (config.Limits{TPS: 100}) {
		t.Errorf("smpp-asia limits = %+v", l)
	}
	asia := byName["smpp-asia"].Pricing
	if asia.Currency != "EUR" || asia.HasDefault ||
		!reflect.DeepEqual(asia.Countries, map[string]float64{"MM": 0.03, "TH": 0.02}) ||
		!reflect.DeepEqual(asia.Operators, map[routing.OperatorKey]float64{{Country: "MM", Operator: "MPT"}: 0.028, {Country: "MM", Operator: "Telenor"}: 0.025}) {
		t.Errorf("smpp-asia pricing = %+v", asia)
	}
	if p := byName["android-mm"].Pricing; !p.HasDefault || p.Default != 0 {
		t.Errorf("android-mm pricing = %+v", p)
	}

	// 09:00 in Yangon (UTC+6:30) is 02:30 UTC.
	at := time.Date(2025, 6, 2, 2, 30, 0, 0, time.UTC)
	r := routing.NewRouter(cfg.Table, nil, routing.WithClock(func() time.Time { return at }))
	tests := []struct {
		name  string
		facts routing.Facts
		route string
		plan  []string
	}{
		{"myanmar otp: the free gateway first", routing.Facts{To: "+959791234567", Country: "MM", Kind: "otp", Segments: 1},
			"mm-otp", []string{"android-mm", "smpp-asia"}},
		{"germany in office hours", routing.Facts{MessageID: "m1", To: "+4915123456789", Country: "DE", Kind: "sms", Segments: 1},
			"eu-split", nil},
		{"elsewhere round robin", routing.Facts{To: "+14155552671", Country: "US", Segments: 1},
			"default", nil},
	}
	for _, tc := range tests {
		plan, err := r.Plan(t.Context(), tc.facts)
		if err != nil || plan.Route != tc.route {
			t.Errorf("%s: plan %+v, %v; want route %s", tc.name, plan, err, tc.route)
			continue
		}
		if tc.plan != nil {
			var got []string
			for _, c := range plan.Candidates {
				got = append(got, c.Provider)
			}
			if !reflect.DeepEqual(got, tc.plan) {
				t.Errorf("%s: candidates %v, want %v", tc.name, got, tc.plan)
			}
		}
	}

	// The prefix table turns +959790… into Ooredoo, and the operator price
	// for Telenor applies to +95979… (0.025 EUR = 0.027 USD).
	ex := r.Explain(t.Context(), routing.Facts{To: "+959791234567", Country: "MM", Operator: "MPT", Kind: "otp", Segments: 2})
	if ex.Message.Operator != "Telenor" || ex.Message.OperatorPrefix != "+95979" || ex.Message.Hour != 9 || ex.Message.Weekday != "mon" {
		t.Errorf("message facts = %+v", ex.Message)
	}
	if c := ex.Routes[0].Candidates[1]; c.Provider != "smpp-asia" || !approx(c.Price, 0.027) || !approx(c.Cost, 0.054) {
		t.Errorf("smpp-asia candidate = %+v, want price 0.027 and cost 0.054", c)
	}
	ex = r.Explain(t.Context(), routing.Facts{To: "+959790123456", Country: "MM", Kind: "otp", Segments: 1})
	if ex.Message.Operator != "Ooredoo" || ex.Message.OperatorPrefix != "+959790" {
		t.Errorf("longest prefix: message facts = %+v", ex.Message)
	}
}

func approx(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
