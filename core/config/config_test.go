package config_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/routing"
)

var update = flag.Bool("update", false, "rewrite testdata/bad/*.golden from the current errors")

var testEnv = map[string]string{
	"SMPP_PASSWORD":          "s3cret",
	"SMSROUTER_DATABASE_DSN": "postgres://postgres@127.0.0.1:5432/sms",
}

// parseCase parses src as test.hcl. With wantErr set it checks that the
// error contains it and returns nil; otherwise it fails on any error.
func parseCase(t *testing.T, src, wantErr string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "test.hcl", opts())
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want one containing %q", err, wantErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func opts() config.Options {
	return config.Options{
		BuiltinKinds: []string{"sandbox", "smpp"},
		LookupEnv:    func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok },
	}
}

func abs(t *testing.T, path string) string {
	t.Helper()
	p, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGoodFiles(t *testing.T) {
	tests := []struct {
		file      string
		server    config.Server
		database  config.Database
		providers []config.Provider // Range is not compared
		plan      []string
	}{
		{
			file:      "minimal.hcl",
			server:    config.Server{Listen: "127.0.0.1:3005", PublicURL: "http://127.0.0.1:3005", Role: config.RoleAll},
			database:  config.Database{Driver: "sqlite", DSN: abs(t, "testdata/good/data/smsrouter.db")},
			providers: []config.Provider{{Name: "sandbox", Plugin: "sandbox", Settings: json.RawMessage(`{}`), PollStatusAfter: config.DefaultPollStatusAfter}},
			plan:      []string{"sandbox"},
		},
		{
			file: "full.hcl",
			server: config.Server{Listen: "0.0.0.0:8080", PublicURL: "https://sms.example.com", Role: config.RoleAll,
				Console: config.Console{SecureCookies: true}},
			database: config.Database{Driver: "sqlite", DSN: abs(t, "testdata/var/sms.db")},
			providers: []config.Provider{
				{Name: "smpp-eu-1", Plugin: "smpp", Settings: json.RawMessage(
					`{"host":"127.0.0.1","password":"s3cret","port":2775,"tags":["eu","bulk"],"window":{"size":10,"timeout":"10s"}}`), PollStatusAfter: config.DefaultPollStatusAfter},
				{Name: "ext_1", Path: abs(t, "testdata/bin/plugin"), SHA256: "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
					Settings: json.RawMessage(`{}`), PollStatusAfter: config.DefaultPollStatusAfter},
			},
			plan: []string{"smpp-eu-1", "ext_1"},
		},
		{
			file:      "postgres.hcl",
			server:    config.Server{Listen: ":3005", PublicURL: "http://127.0.0.1:3005", Role: config.RoleAPI},
			database:  config.Database{Driver: "postgres", DSN: "postgres://postgres@127.0.0.1:5432/sms"},
			providers: []config.Provider{{Name: "a", Plugin: "sandbox", Settings: json.RawMessage(`{}`), PollStatusAfter: config.DefaultPollStatusAfter}},
			plan:      []string{"a"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "good", tc.file)
			cfg, err := config.Load(path, opts())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Filename != path {
				t.Errorf("Filename = %q", cfg.Filename)
			}
			server := cfg.Server
			server.RoleRange = hcl.Range{}
			server.Transport = config.Transport{} // see TestTransport
			if !reflect.DeepEqual(server, tc.server) {
				t.Errorf("Server = %+v, want %+v", server, tc.server)
			}
			if cfg.Database != tc.database {
				t.Errorf("Database = %+v, want %+v", cfg.Database, tc.database)
			}
			got := make([]config.Provider, len(cfg.Providers))
			for i, p := range cfg.Providers {
				if p.Range.Filename != path || p.Range.Start.Line == 0 {
					t.Errorf("provider %s range = %v", p.Name, p.Range)
				}
				p.Range, p.SettingRanges = hcl.Range{}, config.SettingRanges{}
				got[i] = p
			}
			if !reflect.DeepEqual(got, tc.providers) {
				t.Errorf("Providers =\n%s\nwant\n%s", dump(got), dump(tc.providers))
			}
			plan, err := cfg.Table.Plan(t.Context(), routing.Facts{To: "+14155552671", Country: "US"})
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			var names []string
			for _, c := range plan.Candidates {
				names = append(names, c.Provider)
			}
			if !reflect.DeepEqual(names, tc.plan) {
				t.Errorf("plan = %v, want %v", names, tc.plan)
			}
			if len(cfg.Routes) != 1 || cfg.Routes[0].Name != "default" || !cfg.Routes[0].Default {
				t.Errorf("Routes = %+v", cfg.Routes)
			}
		})
	}
}

func dump(ps []config.Provider) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.Name + " plugin=" + p.Plugin + " path=" + p.Path + " sha256=" + p.SHA256 + " settings=" + string(p.Settings) + "\n")
	}
	return b.String()
}

// TestBadFiles compares the full error text for each broken file with its
// golden file, so every problem is reported, once, with file:line:column.
// Absolute paths are written as $TESTDATA.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	testdata := abs(t, "testdata")
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, err := config.Load(path, opts())
			if err == nil {
				t.Fatalf("Load succeeded: %+v", cfg)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			var diags hcl.Diagnostics
			if !errors.As(err, &diags) || !diags.HasErrors() {
				t.Errorf("error does not unwrap to hcl.Diagnostics")
			}
			got := strings.ReplaceAll(err.Error(), testdata, "$TESTDATA") + "\n"
			for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
				// Rate sheets report problems at their own line and column.
				if !strings.HasPrefix(line, path+":") && !strings.HasPrefix(line, filepath.Join("testdata", "bad", "rates")+"/") {
					t.Errorf("line without file:line:column: %q", line)
				}
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("error text leaks an environment value")
			}
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ from %s\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestParseEmbeddedName(t *testing.T) {
	src := []byte("provider \"p\" {\n  plugin = \"sandbox\"\n}\nroute \"r\" {\n  default = true\n  candidates = [\"p\"]\n}\n")
	cfg, err := config.Parse(src, "default.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := abs(t, filepath.Join("data", "smsrouter.db")); cfg.Database.DSN != want {
		t.Errorf("DSN = %q, want %q (relative to the working directory)", cfg.Database.DSN, want)
	}
}

func TestEnvDefaultsToProcessEnvironment(t *testing.T) {
	t.Setenv("SMSROUTER_TEST_LISTEN", "127.0.0.1:4000")
	src := []byte("server {\n  listen = env(\"SMSROUTER_TEST_LISTEN\")\n}\nprovider \"p\" {\n  plugin = \"sandbox\"\n}\nroute \"r\" {\n  default = true\n  candidates = [\"p\"]\n}\n")
	cfg, err := config.Parse(src, "x.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:4000" || cfg.Server.PublicURL != "http://127.0.0.1:4000" {
		t.Errorf("Server = %+v", cfg.Server)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.hcl"), opts())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want os.ErrNotExist", err)
	}
}

func TestPollDurations(t *testing.T) {
	const base = `
provider "sandbox" {
  plugin = "sandbox"
  %s
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`
	tests := []struct {
		name, attrs    string
		after, pollFor time.Duration
		wantErr        string
	}{
		{"none: the default", ``, config.DefaultPollStatusAfter, 0, ""},
		{"off", `poll_status_after = "off"`, 0, 0, ""},
		{"off with a polling time", `poll_status_after = "off"` + "\n" + `poll_status_for = "1m"`, 0, time.Minute, ""},
		{"shorter than the default", `poll_status_after = "30s"`, 30 * time.Second, 0, ""},
		{"stops before the default starts", `poll_status_for = "10m"`, 0, 0,
			`test.hcl:4:21: Invalid poll_status_for: polling would stop (after 10m0s) before it starts (poll_status_after = 15m0s)`},
		{"both", `poll_status_after = "30s"` + "\n" + `poll_status_for = "48h"`, 30 * time.Second, 48 * time.Hour, ""},
		{"too short", `poll_status_after = "10ms"`, 0, 0, `test.hcl:4:23: Invalid poll_status_after: want "off" or a duration of at least 1s`},
		{"not a duration", `poll_status_for = "forever"`, 0, 0, `test.hcl:4:21: Invalid poll_status_for`},
		{"stops before it starts", `poll_status_after = "1h"` + "\n" + `poll_status_for = "30m"`, 0, 0,
			`test.hcl:5:19: Invalid poll_status_for: polling would stop (after 30m0s) before it starts (poll_status_after = 1h0m0s)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.attrs), tt.wantErr)
			if cfg == nil {
				return
			}
			if p := cfg.Providers[0]; p.PollStatusAfter != tt.after || p.PollStatusFor != tt.pollFor {
				t.Errorf("after %s for %s, want %s and %s", p.PollStatusAfter, p.PollStatusFor, tt.after, tt.pollFor)
			}
		})
	}
}
