package configs_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestAndroidExampleParses validates android.example.hcl as shipped and
// hands the android provider's settings to the real plugin's validation.
func TestAndroidExampleParses(t *testing.T) {
	env := map[string]string{
		"SMSROUTER_DATABASE_DSN": "postgres://smsrouter@127.0.0.1:5432/smsrouter",
		"ANDROID_PRIVATE_TOKEN":  "example-private-token-0123456789",
	}
	opts := exampleOptions(env)
	cfg, err := config.Load("android.example.hcl", opts)
	if err != nil {
		t.Fatalf("android example does not parse:\n%v", err)
	}
	var names []string
	for _, p := range cfg.Providers {
		names = append(names, p.Name)
		if p.Plugin != "android" {
			continue
		}
		err := android.New().ValidateSettings(context.Background(), sdk.Config{Name: p.Name, Settings: p.Settings})
		if err != nil {
			t.Errorf("provider %s: %v", p.Name, err)
		}
	}
	if !reflect.DeepEqual(names, []string{"android-ygn", "smpp-asia"}) {
		t.Errorf("providers = %v", names)
	}
}
