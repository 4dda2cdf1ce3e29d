package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// productionCopy writes configs/production.example.hcl as shipped, with its
// rate sheet and routing cases, into dir.
func productionCopy(t *testing.T, dir string) string {
	t.Helper()
	files := map[string]string{"production.hcl": "production.example.hcl", "rates/smpp-asia-1.csv": "rates/smpp-asia-1.csv",
		"production.cases.hcl": "production.cases.hcl"}
	if err := os.MkdirAll(filepath.Join(dir, "rates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for dst, src := range files {
		b, err := os.ReadFile(filepath.Join("..", "..", "configs", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "production.hcl")
}

func runBinary(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	// The production example's settings, as an operator's environment gives them.
	cmd.Env = append(os.Environ(), "SMSROUTER_DATABASE_DSN=postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef", "TWILIO_AUTH_TOKEN=twilio-token", "AGGREGATOR_TOKEN=aggregator-token", "ANDROID_PRIVATE_TOKEN=android-private-token-0123")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRouteExplainProductionExample(t *testing.T) {
	cfg := productionCopy(t, t.TempDir())
	tests := []struct {
		name   string
		args   []string
		choice string
	}{
		{"Myanmar OTP", []string{"--to", "+959791234567", "--kind", "otp"}, "route mm-otp: smpp-asia-1, smpp-asia-2, aggregator"},
		{"Myanmar MPT", []string{"--to", "+959250123456"}, "route mm: smpp-asia-2, smpp-asia-1"},
		{"Germany", []string{"--to", "+4915123456789"}, "route eu: smpp-eu-2, smpp-eu-1"},
		{"France", []string{"--to", "+33612345678"}, "route eu: smpp-eu-1, smpp-eu-2"},
		{"United States", []string{"--to", "+14155552671"}, "route us: twilio-us, aggregator"},
		{"Japan", []string{"--to", "+819012345678", "--tag", "campaign=x"}, "route default: aggregator"},
		// The state a live server would know, given on the command line.
		{"Myanmar OTP, cheapest link down", []string{"--to", "+959791234567", "--kind", "otp", "--unhealthy", "smpp-asia-1"},
			"route mm-otp: smpp-asia-2, aggregator"},
		{"Myanmar OTP, cheapest link out of credit", []string{"--to", "+959791234567", "--kind", "otp", "--balance", "smpp-asia-1=0.01",
			"--balance", "smpp-asia-2=60", "--at", "2026-12-07T23:10+06:30"}, "route mm-otp: smpp-asia-2, aggregator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"route", "explain", "--config", cfg, "--text", "Your code is 123456"}, tc.args...)
			out, err := runBinary(t, args...)
			if err != nil {
				t.Fatalf("route explain: %v\n%s", err, out)
			}
			if !strings.Contains(out, "choice    "+tc.choice+"\n") {
				t.Errorf("want the choice %q in:\n%s", tc.choice, out)
			}
		})
	}

	// The MM OTP explanation says why: costs from the rate sheet's operator
	// price, and the route list it went through.
	out, _ := runBinary(t, "route", "explain", "--config", cfg, "--to", "+959791234567", "--text", "code 1", "--kind", "otp")
	for _, want := range []string{"operator Telenor (operator prefix +95979)", "route 1   mm-otp: chosen",
		"kept    smpp-asia-1 (", "cost 0.029 USD", "least_cost  smpp-asia-1, smpp-asia-2, aggregator"} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}

	out, err := runBinary(t, "route", "explain", "--config", cfg, "--to", "+4915123456789", "--text", "hi", "--json")
	if err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	var ex struct {
		Route      string
		Candidates []string
		Routes     []struct{ Name, Outcome string }
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil || ex.Route != "eu" || len(ex.Routes) != 4 || ex.Routes[0].Outcome != "no match" {
		t.Errorf("--json: %v %+v\n%s", err, ex, out)
	}

	if out, err := runBinary(t, "route", "explain", "--config", cfg, "--to", "+959791234567", "--text", "hi", "--balance", "smpp-asia-9=1"); err == nil ||
		!strings.Contains(out, `provider "smpp-asia-9" is not configured`) {
		t.Errorf("state for an unknown provider: %v\n%s", err, out)
	}
	if out, err := runBinary(t, "route", "explain", "--config", cfg, "--to", "+959791234567", "--text", "hi", "--at", "11pm"); err == nil ||
		!strings.Contains(out, "is not an RFC 3339 time") {
		t.Errorf("bad --at: %v\n%s", err, out)
	}
	if out, err := runBinary(t, "route", "explain", "--config", cfg, "--to", "12", "--text", "hi"); err == nil || !strings.Contains(out, "Invalid phone number format") {
		t.Errorf("bad number: %v\n%s", err, out)
	}
}

func TestConfigValidateReportsRuleErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.hcl")
	src := "provider \"a\" {\n  plugin = \"sandbox\"\n}\nroute \"mm\" {\n  match      = \"country == 'MM' && knd == 'otp'\"\n  candidates = [\"a\"]\n}\nroute \"default\" {\n  default    = true\n  candidates = [\"a\"]\n  filter     = \"cost > 'x'\"\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runBinary(t, "config", "validate", path)
	if err == nil {
		t.Fatalf("validate accepted a broken rule:\n%s", out)
	}
	for _, want := range []string{path + ":5:36: Invalid match rule: route \"mm\": unknown name knd",
		path + ":11:22: Invalid filter rule: route \"default\": invalid operation: > (mismatched types float64 and string)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func routedConfig(t *testing.T, dir, routes string) string {
	t.Helper()
	path := writeConfig(t, dir)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "route \"default\" {", routes+"\nroute \"default\" {", 1)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSIGHUPReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	path := routedConfig(t, dir, "route \"mm-v1\" {\n  match = \"country == 'MM'\"\n  candidates = [\"sandbox\"]\n}\n")
	h := startHost(t, path)
	explain := func() string {
		t.Helper()
		code, body := h.call(t, "POST", "/api/v1/admin/route/explain", `{"to":"+959791234567","text":"hi"}`)
		if code != http.StatusOK {
			t.Fatalf("explain: HTTP %d %v", code, body)
		}
		return fmt.Sprint(body["route"])
	}
	if got := explain(); got != "mm-v1" {
		t.Fatalf("route %q before reload", got)
	}

	// A broken rule: refused, and the running table stays.
	routedConfig(t, dir, "route \"mm-v2\" {\n  match = \"country == 'MM' && knd\"\n  candidates = [\"sandbox\"]\n}\n")
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	h.stderr.await(t, regexp.MustCompile(`reload refused; the running routing table stays.*unknown name knd`), 30*time.Second)
	if got := explain(); got != "mm-v1" {
		t.Errorf("route %q after a refused reload, want mm-v1", got)
	}

	// A good one is swapped in, by signal and by the admin endpoint.
	routedConfig(t, dir, "route \"mm-v2\" {\n  match = \"country == 'MM'\"\n  candidates = [\"sandbox\"]\n}\n")
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The log line says what changed.
	h.stderr.await(t, regexp.MustCompile(`routing table reloaded.*routes_added=mm-v2 routes_removed=mm-v1`), 30*time.Second)
	if got := explain(); got != "mm-v2" {
		t.Errorf("route %q after reload, want mm-v2", got)
	}
	routedConfig(t, dir, "route \"mm-v3\" {\n  match = \"country == 'MM'\"\n  candidates = [\"sandbox\"]\n}\n")
	if code, body := h.call(t, "POST", "/api/v1/admin/reload", ""); code != http.StatusOK {
		t.Fatalf("admin reload: HTTP %d %v", code, body)
	}
	if got := explain(); got != "mm-v3" {
		t.Errorf("route %q after admin reload, want mm-v3", got)
	}
	// Messages keep flowing through the reloaded table.
	id := h.send(t, "after reload")
	if got := h.awaitFinal(t, []string{id}, 30*time.Second); got["delivered"] != 1 {
		t.Errorf("message after reload ended %v", got)
	}
}

// config validate runs the routing cases the config names, or those given
// with --cases, and fails with a diff when one does not hold.
func TestConfigValidateRunsCases(t *testing.T) {
	dir := t.TempDir()
	cfg := productionCopy(t, dir)
	out, err := runBinary(t, "config", "validate", "--config", cfg)
	if err != nil || !strings.Contains(out, "14 routing cases, 0 failed") || !strings.Contains(out, "production.hcl: OK") {
		t.Errorf("shipped cases: %v\n%s", err, out)
	}
	wrong := filepath.Join(dir, "wrong.cases.hcl")
	src := "case \"germany\" {\n  to    = \"+4915123456789\"\n  route = \"eu\"\n  plan  = [\"smpp-eu-1\", \"smpp-eu-2\"]\n}\n"
	if err := os.WriteFile(wrong, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runBinary(t, "config", "validate", "--config", cfg, "--cases", wrong)
	if err == nil {
		t.Fatalf("a wrong expectation passed:\n%s", out)
	}
	for _, want := range []string{"FAIL  " + wrong + ":1:1: case \"germany\"", "plan   want [smpp-eu-1, smpp-eu-2]",
		"got  [smpp-eu-2, smpp-eu-1]", "route eu: chosen", "1 of 1 routing cases in " + wrong + " failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ": OK (") {
		t.Errorf("a failing run says OK:\n%s", out)
	}
}

// config validate shows lint warnings and passes; --strict fails on them.
func TestConfigValidateStrict(t *testing.T) {
	path := filepath.Join("..", "..", "core", "config", "testdata", "lint", "mistakes.hcl")
	out, err := runBinary(t, "config", "validate", "--config", path)
	if err != nil || !strings.Contains(out, "warning: Lower-case country code") || !strings.Contains(out, ": OK (") {
		t.Errorf("warnings: %v\n%s", err, out)
	}
	out, err = runBinary(t, "config", "validate", "--strict", "--config", path)
	if err == nil || !strings.Contains(out, "lint warnings, and --strict fails on them") {
		t.Errorf("--strict: %v\n%s", err, out)
	}
}

func TestExplainAt(t *testing.T) {
	yangon, err := time.LoadLocation("Asia/Yangon")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC) // 02:30 on the 8th in Yangon
	tests := []struct {
		in, want, err string
	}{
		{"22:30", "2026-12-08T22:30:00+06:30", ""},
		{"00:05", "2026-12-08T00:05:00+06:30", ""},
		{"2026-12-07T23:10+06:30", "2026-12-07T23:10:00+06:30", ""},
		{"", "0001-01-01T00:00:00Z", ""},
		{"24:00", "", "or HH:MM for today in the routing time zone (Asia/Yangon)"},
		{"9pm", "", "is not an RFC 3339 time"},
	}
	for _, tt := range tests {
		got, err := explainAt(tt.in, yangon, now)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("explainAt(%q) error %v, want one containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339) != tt.want {
			t.Errorf("explainAt(%q) = %s, %v; want %s", tt.in, got.Format(time.RFC3339), err, tt.want)
		}
	}
}

func TestWhatIfNetworkFlags(t *testing.T) {
	fs := newFlags("route explain")
	s := whatIfFlags(fs)
	if err := fs.Parse([]string{"--operators", "phones=Telenor, Ooredoo", "--countries", "phones=MM", "--operators", "modems="}); err != nil {
		t.Fatal(err)
	}
	if p := s.patches["phones"]; strings.Join(p.Operators, "|") != "Telenor|Ooredoo" || strings.Join(p.Countries, "|") != "MM" {
		t.Errorf("phones patch %+v, want operators Telenor, Ooredoo and country MM", p)
	}
	if p := s.patches["modems"]; p.Operators == nil || len(p.Operators) != 0 {
		t.Errorf("modems= should be an empty list (no network online), got %#v", p.Operators)
	}
	if err := newFlagsParse(whatIfFlags, "--operators", "Telenor"); err == nil || !strings.Contains(err.Error(), "want PROVIDER=NAME,NAME") {
		t.Errorf("--operators without a provider: %v", err)
	}
}

// newFlagsParse parses args with a fresh flag set the add function fills.
func newFlagsParse(add func(*flag.FlagSet) *stateFlags, args ...string) error {
	fs := newFlags("route explain")
	fs.SetOutput(io.Discard)
	add(fs)
	return fs.Parse(args)
}
