package configs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/configs"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/core/routecases"
	"github.com/smsrouter/smsrouter/plugins/builtin"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/sdk"
)

// The tests configure real sandbox providers, which may start goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEmbeddedDefaultIsTheFile(t *testing.T) {
	onDisk, err := os.ReadFile(configs.DefaultFilename)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, configs.Default) {
		t.Error("embedded default differs from default.hcl")
	}
}

func TestDefaultConfigParses(t *testing.T) {
	cfg, err := config.Parse(configs.Default, configs.DefaultFilename, config.Options{
		BuiltinKinds: builtin.Kinds(),
		LookupEnv:    func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatalf("embedded default does not parse:\n%v", err)
	}
	if cfg.Server.Listen != "127.0.0.1:3005" || cfg.Server.PublicURL != "http://127.0.0.1:3005" {
		t.Errorf("server = %+v", cfg.Server)
	}
	wd, _ := os.Getwd()
	if cfg.Database.Driver != config.DriverSQLite || cfg.Database.DSN != filepath.Join(wd, "data", "smsrouter.db") {
		t.Errorf("database = %+v", cfg.Database)
	}
	if len(cfg.Providers) != 1 || cfg.Providers[0].Name != "sandbox" || cfg.Providers[0].Plugin != "sandbox" {
		t.Fatalf("providers = %+v", cfg.Providers)
	}
	plan, err := cfg.Table.Plan(context.Background(), routing.Facts{To: "+959123456789", Country: "MM"})
	if err != nil || plan.Route != "default" || !reflect.DeepEqual(plan.Candidates, []routing.Candidate{{Provider: "sandbox", HasPrice: true}}) {
		t.Errorf("plan = %+v, %v", plan, err)
	}
	// What /api/v1/countries shows: the sandbox, free, everywhere.
	if got := cfg.Table.Destinations(); !reflect.DeepEqual(got, []routing.Destination{{Provider: "sandbox", Price: 0}}) {
		t.Errorf("destinations = %+v, want the sandbox at 0 for every country", got)
	}
	configureBuiltins(t, cfg)
}

// copyProductionExample writes the example, its rate sheet and its routing
// cases into a fresh directory, so the whole file, path checks included, is
// validated as shipped.
func copyProductionExample(t *testing.T) (path string, src []byte) {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("production.example.hcl")
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "production.hcl")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	rates, err := os.ReadFile(filepath.Join("rates", "smpp-asia-1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rates", "smpp-asia-1.csv"), rates, 0o600); err != nil {
		t.Fatal(err)
	}
	cases, err := os.ReadFile("production.cases.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "production.cases.hcl"), cases, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, src
}

func TestProductionExampleParses(t *testing.T) {
	path, src := copyProductionExample(t)
	env := map[string]string{
		"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"TWILIO_ACCOUNT_SID":     "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN":      "twilio-token",
		"AGGREGATOR_TOKEN":       "aggregator-token",
		"ANDROID_PRIVATE_TOKEN":  "android-private-token-0123",
	}
	opts := config.Options{BuiltinKinds: builtin.Kinds(), LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}

	cfg, err := config.Load(path, opts)
	if err != nil {
		t.Fatalf("production example does not parse:\n%v", err)
	}
	if cfg.Database.Driver != config.DriverPostgres || cfg.Database.DSN != env["SMSROUTER_DATABASE_DSN"] {
		t.Errorf("database = %+v", cfg.Database)
	}
	if cfg.Server.PublicURL != "https://sms.example.com" {
		t.Errorf("public url = %q", cfg.Server.PublicURL)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
	}
	want := []string{"android-mm", "smpp-asia-1", "smpp-asia-2", "smpp-eu-1", "smpp-eu-2", "twilio-us", "aggregator"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("providers = %v, want %v", names, want)
	}
	if got := cfg.Table.Routes(); !reflect.DeepEqual(got, []string{"mm-otp", "mm-marketing", "mm", "eu", "us", "default"}) {
		t.Errorf("routes = %v", got)
	}
	// The routing cases shipped beside it pass, so CI runs them.
	var report bytes.Buffer
	if cfg.RoutingCases == "" {
		t.Error("the example names no routing cases")
	} else if err := routecases.Check(t.Context(), &report, cfg.Table, cfg.RoutingCases); err != nil {
		t.Errorf("%v\n%s", err, report.String())
	}
	configureBuiltins(t, cfg)

	// Without the DSN in the environment the error points at the env call.
	delete(env, "SMSROUTER_DATABASE_DSN")
	_, err = config.Load(path, opts)
	line := 1 + bytes.Count(src[:bytes.Index(src, []byte(`dsn = env("SMSROUTER_DATABASE_DSN")`))], []byte("\n"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s:%d:", path, line)) || !strings.Contains(err.Error(), "SMSROUTER_DATABASE_DSN is not set") {
		t.Errorf("missing DSN error = %v", err)
	}
}

type state map[string]routing.ProviderState

func (s state) ProviderState(name string) routing.ProviderState {
	if st, ok := s[name]; ok {
		return st
	}
	return routing.ProviderState{Healthy: true, SuccessRate: 1}
}

// TestProductionExampleRoutes checks the example's rules do what its
// comments say, for numbers in six countries and with providers failing.
func TestProductionExampleRoutes(t *testing.T) {
	path, _ := copyProductionExample(t)
	cfg, err := config.Load(path, config.Options{BuiltinKinds: builtin.Kinds(),
		LookupEnv: func(k string) (string, bool) { return "postgres://x@127.0.0.1/x", k == "SMSROUTER_DATABASE_DSN" }})
	if err != nil {
		t.Fatal(err)
	}
	lowBalance := routing.ProviderState{Healthy: true, HasBalance: true, Balance: 0.01, BalanceCurrency: "USD", SuccessRate: 1}
	tests := []struct {
		name  string
		to    string
		kind  string
		state state
		route string
		want  []string
	}{
		{"Myanmar OTP: the cheapest SMPP link, the aggregator last", "+959791234567", "otp", nil, "mm-otp", []string{"smpp-asia-1", "smpp-asia-2", "aggregator"}},
		{"Myanmar OTP, cheapest link down", "+959791234567", "otp", state{"smpp-asia-1": {}}, "mm-otp", []string{"smpp-asia-2", "aggregator"}},
		{"Myanmar OTP, cheapest link out of money", "+959791234567", "otp",
			state{"smpp-asia-1": lowBalance}, "mm-otp", []string{"smpp-asia-2", "aggregator"}},
		{"Myanmar marketing: the phones, free", "+959791234567", "marketing", nil, "mm-marketing", []string{"android-mm", "smpp-asia-1", "smpp-asia-2"}},
		{"Myanmar marketing, no phone online: SMPP", "+959791234567", "marketing", state{"android-mm": {}}, "mm-marketing", []string{"smpp-asia-1", "smpp-asia-2"}},
		{"Myanmar MPT number: the other link is cheaper", "+959250123456", "sms", nil, "mm", []string{"smpp-asia-2", "smpp-asia-1"}},
		{"Germany: smpp-eu-2 is cheaper after conversion", "+4915123456789", "sms", nil, "eu", []string{"smpp-eu-2", "smpp-eu-1"}},
		{"France: smpp-eu-1 is cheaper", "+33612345678", "sms", nil, "eu", []string{"smpp-eu-1", "smpp-eu-2"}},
		{"France, smpp-eu-1 failing", "+33612345678", "sms", state{"smpp-eu-1": {Healthy: true, SuccessRate: 0.5}}, "eu", []string{"smpp-eu-2"}},
		{"United States: Twilio", "+14155552671", "sms", nil, "us", []string{"twilio-us", "aggregator"}},
		{"Japan: the aggregator", "+819012345678", "sms", nil, "default", []string{"aggregator"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			num, err := number.Parse(tc.to)
			if err != nil {
				t.Fatal(err)
			}
			f := routing.Facts{To: num.E164, Country: num.Country, Operator: num.Operator, Kind: tc.kind, Segments: 1}
			var src routing.StateSource
			if tc.state != nil {
				src = tc.state
			}
			ex := routing.NewRouter(cfg.Table, src).Explain(context.Background(), f)
			if ex.Route != tc.route || !reflect.DeepEqual(ex.Candidates, tc.want) {
				t.Errorf("route %s %v, want %s %v\n%s", ex.Route, ex.Candidates, tc.route, tc.want, ex.Text())
			}
		})
	}
}

// configureBuiltins hands every provider's settings to the real built-in
// plugin of its kind, so the shipped files use keys and values it accepts.
// The context is cancelled: Configure checks the settings and does not wait
// for an upstream (an SMPP bind).
func configureBuiltins(t *testing.T, cfg *config.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, p := range cfg.Providers {
		pr, ok := builtin.New(p.Plugin)
		if !ok {
			t.Errorf("provider %s: plugin %q is not built in", p.Name, p.Plugin)
			continue
		}
		if err := pr.Configure(ctx, sdk.Config{Name: p.Name, Settings: p.Settings}); err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		if err := pr.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", p.Name, err)
		}
	}
}
