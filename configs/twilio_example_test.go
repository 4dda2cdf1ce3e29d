package configs_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestTwilioExampleParses validates twilio.example.hcl as shipped and hands
// each twilio provider's settings to the real plugin.
func TestTwilioExampleParses(t *testing.T) {
	env := map[string]string{
		"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"TWILIO_ACCOUNT_SID":     "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN":      "example-auth-token",
		"CONNECTOR_API_TOKEN":    "example-connector-token",
		"CONNECTOR_HOOK_SECRET":  "example-hook-secret-0123456789",
	}
	opts := exampleOptions(env)
	cfg, err := config.Load("twilio.example.hcl", opts)
	if err != nil {
		t.Fatalf("twilio example does not parse:\n%v", err)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Plugin != "twilio" {
			t.Errorf("provider %s uses plugin %q, want twilio", p.Name, p.Plugin)
			continue
		}
		tw := twilio.New()
		err := tw.Configure(context.Background(), sdk.Config{Name: p.Name, Settings: p.Settings,
			HookURL: cfg.Server.PublicURL + "/api/v1/providers/" + p.Name + "/hooks"})
		if err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		if err := tw.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", p.Name, err)
		}
	}
	if !reflect.DeepEqual(names, []string{"twilio-us", "connector"}) {
		t.Errorf("providers = %v", names)
	}

	// Without the auth token in the environment the error points at it.
	delete(env, "TWILIO_AUTH_TOKEN")
	_, err = config.Load("twilio.example.hcl", opts)
	if err == nil || !strings.Contains(err.Error(), "TWILIO_AUTH_TOKEN is not set") {
		t.Errorf("missing token error = %v", err)
	}
}

// TestTwilioExampleNamesNoRealSecret keeps real-looking credentials out of
// the shipped file: every secret comes from env().
func TestTwilioExampleNamesNoRealSecret(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(".", "twilio.example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		code, _, _ := strings.Cut(line, "#")
		for _, key := range []string{"auth_token", "hook_secret"} {
			if strings.Contains(code, key) && strings.Contains(code, "=") && !strings.Contains(code, "env(") {
				t.Errorf("%s is set without env(): %q", key, strings.TrimSpace(line))
			}
		}
	}
}
