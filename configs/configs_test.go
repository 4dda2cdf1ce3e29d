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
	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/sdk"
)

var builtin = []string{"sandbox"}

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
		BuiltinKinds: builtin,
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
	if err != nil || plan.Route != "default" || !reflect.DeepEqual(plan.Candidates, []routing.Candidate{{Provider: "sandbox"}}) {
		t.Errorf("plan = %+v, %v", plan, err)
	}
	configureSandboxes(t, cfg)
}

func TestProductionExampleParses(t *testing.T) {
	// The example names an external plugin binary beside it; give it one so
	// the whole file, path checks included, is validated as shipped.
	dir := t.TempDir()
	src, err := os.ReadFile("production.example.hcl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "production.hcl")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "acme-plugin"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter"}
	opts := config.Options{BuiltinKinds: builtin, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}

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
	if !reflect.DeepEqual(names, []string{"primary", "backup", "acme"}) {
		t.Errorf("providers = %v", names)
	}
	if acme := cfg.Providers[2]; acme.Path != filepath.Join(dir, "bin", "acme-plugin") || len(acme.SHA256) != 64 {
		t.Errorf("acme = %+v", acme)
	}
	plan, err := cfg.Table.Plan(context.Background(), routing.Facts{To: "+14155552671", Country: "US"})
	want := []routing.Candidate{{Provider: "primary"}, {Provider: "backup"}, {Provider: "acme"}}
	if err != nil || !reflect.DeepEqual(plan.Candidates, want) {
		t.Errorf("plan = %+v, %v", plan, err)
	}
	configureSandboxes(t, cfg)

	// Without the DSN in the environment the error points at the env call.
	delete(env, "SMSROUTER_DATABASE_DSN")
	_, err = config.Load(path, opts)
	line := 1 + bytes.Count(src[:bytes.Index(src, []byte(`dsn = env("SMSROUTER_DATABASE_DSN")`))], []byte("\n"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%s:%d:", path, line)) || !strings.Contains(err.Error(), "SMSROUTER_DATABASE_DSN is not set") {
		t.Errorf("missing DSN error = %v", err)
	}
}

// configureSandboxes hands every sandbox provider's settings to the real
// plugin, so the shipped files use keys and values it accepts.
func configureSandboxes(t *testing.T, cfg *config.Config) {
	t.Helper()
	for _, p := range cfg.Providers {
		if p.Plugin != "sandbox" {
			continue
		}
		sb := sandbox.New()
		if err := sb.Configure(context.Background(), sdk.Config{Name: p.Name, Settings: p.Settings}); err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		if err := sb.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", p.Name, err)
		}
	}
}
