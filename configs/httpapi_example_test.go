package configs_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/plugins/httpapi"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestHTTPAPIExampleParsesAndConfigures(t *testing.T) {
	env := map[string]string{
		"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"AGGREGATOR_TOKEN":       "aggregator-token",
		"ACME_API_KEY":           "acme-key",
	}
	opts := exampleOptions(env)
	cfg, err := config.Load("httpapi.example.hcl", opts)
	if err != nil {
		t.Fatalf("httpapi example does not parse:\n%v", err)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Plugin != "httpapi" || p.PollStatusAfter == 0 {
			t.Errorf("provider %s: plugin %q, poll_status_after %s; want httpapi, polled", p.Name, p.Plugin, p.PollStatusAfter)
		}
		// The real plugin checks the settings, templates and selectors; it
		// does not contact the upstream.
		prov := httpapi.New()
		if err := prov.Configure(context.Background(), sdk.Config{Name: p.Name, Settings: p.Settings}); err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		if caps := sdk.CapabilitiesOf(prov); !caps.StatusQuery || !caps.Balance {
			t.Errorf("provider %s: capabilities %+v, want status queries and balance", p.Name, caps)
		}
		if err := prov.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", p.Name, err)
		}
	}
	if !reflect.DeepEqual(names, []string{"aggregator", "aggregator-xml", "acme"}) {
		t.Errorf("providers = %v", names)
	}

	// The second aggregator is the one the plugin's own tests run against a
	// server of that shape; the example must not drift from it.
	fixture, err := os.ReadFile(filepath.Join("..", "plugins", "httpapi", "testdata", "second_aggregator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	if err := json.Unmarshal(fixture, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cfg.Providers[2].Settings, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"base_url", "auth"} {
		delete(want, k)
		delete(got, k)
	}
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("provider acme in the example differs from plugins/httpapi/testdata/second_aggregator.json:\n%s", gb)
	}

	// Without the token the error points at the env call.
	delete(env, "AGGREGATOR_TOKEN")
	if _, err := config.Load("httpapi.example.hcl", opts); err == nil {
		t.Error("example parsed without AGGREGATOR_TOKEN set")
	}
}
