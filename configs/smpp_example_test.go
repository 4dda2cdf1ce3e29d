package configs_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestSMPPExampleParses validates smpp.example.hcl as shipped and hands each
// smpp provider's settings to the real plugin (without reaching any SMSC).
func TestSMPPExampleParses(t *testing.T) {
	env := map[string]string{
		"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"SMPP_OPERATOR_PASSWORD": "secret",
		"SMPP_CARRIER_PASSWORD":  "s3cret",
	}
	opts := exampleOptions(env)
	cfg, err := config.Load("smpp.example.hcl", opts)
	if err != nil {
		t.Fatalf("smpp example does not parse:\n%v", err)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Plugin != "smpp" {
			t.Errorf("provider %s uses plugin %q, want smpp", p.Name, p.Plugin)
			continue
		}
		// A cancelled context: Configure checks the settings and does not
		// wait for a bind.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		pr := smpp.New()
		if err := pr.Configure(ctx, sdk.Config{Name: p.Name, Settings: p.Settings}); err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
		if err := pr.Close(context.Background()); err != nil {
			t.Errorf("close %s: %v", p.Name, err)
		}
	}
	if !reflect.DeepEqual(names, []string{"smpp-operator", "smpp-carrier"}) {
		t.Errorf("providers = %v", names)
	}
	delete(env, "SMPP_OPERATOR_PASSWORD")
	if _, err := config.Load("smpp.example.hcl", opts); err == nil || !strings.Contains(err.Error(), "SMPP_OPERATOR_PASSWORD is not set") {
		t.Errorf("missing password error = %v", err)
	}
}
