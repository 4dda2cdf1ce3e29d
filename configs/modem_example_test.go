package configs_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestModemExampleParses validates modem.example.hcl as shipped and hands
// its settings to the real plugin, which accepts them without the modems
// being there.
func TestModemExampleParses(t *testing.T) {
	env := map[string]string{
		"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"MODEM_SIM2_PIN":         "4321",
	}
	opts := exampleOptions(env)
	cfg, err := config.Load("modem.example.hcl", opts)
	if err != nil {
		t.Fatalf("modem example does not parse:\n%v", err)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Plugin != "modem" {
			t.Errorf("provider %s uses plugin %q, want modem", p.Name, p.Plugin)
			continue
		}
		pr := modem.New()
		c := sdk.Config{Name: p.Name, Settings: p.Settings}
		if err := pr.ValidateSettings(context.Background(), c); err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		// A cancelled context: Configure checks the settings and does not
		// wait for the modems, which are not on this machine.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := pr.Configure(ctx, c); err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		if err := pr.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", p.Name, err)
		}
	}
	if !reflect.DeepEqual(names, []string{"modems"}) {
		t.Errorf("providers = %v", names)
	}
	env["MODEM_SIM2_PIN"] = "12"
	cfg, err = config.Load("modem.example.hcl", opts)
	if err != nil {
		t.Fatal(err)
	}
	err = modem.New().ValidateSettings(context.Background(), sdk.Config{Name: "modems", Settings: cfg.Providers[0].Settings})
	if err == nil || !strings.Contains(err.Error(), "ports[1].pin") {
		t.Errorf("short PIN error = %v", err)
	}
}
