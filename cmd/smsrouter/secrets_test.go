package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/seal"
)

// TestCLISecrets rotates a key as docs/architecture.md tells operators
// to: a new key first, the old one after it, reseal, then the old one
// goes.
func TestCLISecrets(t *testing.T) {
	newKey := cliRun(t, "secrets", "new-key")
	newKey.expect(t, 0, nil, nil)
	k, err := seal.ParseKey(newKey.stdout)
	if err != nil {
		t.Fatalf("secrets new-key printed %q: %v", newKey.stdout, err)
	}
	_, oldText := seal.GenerateKey()

	cfg := cliConfig(t, "127.0.0.1:0", `  plugin = "sandbox"`)
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	withKeys := func(keys ...string) {
		t.Helper()
		block := fmt.Sprintf("\nsecrets {\n  keys = [\"%s\"]\n}\n", strings.Join(keys, `", "`))
		if err := os.WriteFile(cfg, append(append([]byte(nil), base...), block...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cliRun(t, "keys", "create", "--name", "ops", "--config", cfg).expect(t, 0, nil, nil)
	cliRun(t, "secrets", "reseal", "--config", cfg).expect(t, 1, nil, []string{"no secret key"})

	withKeys(oldText)
	cliRun(t, "accounts", "list", "--config", cfg).expect(t, 0, []string{"BODIES"}, nil)
	withKeys(strings.TrimSpace(newKey.stdout))
	cliRun(t, "accounts", "list", "--config", cfg).expect(t, 1, nil, []string{"which this server does not have", "SMSROUTER_SECRET_KEY"})
	withKeys(strings.TrimSpace(newKey.stdout), oldText)
	cliRun(t, "secrets", "reseal", "--config", cfg).expect(t, 0, []string{"remove it from the configuration"}, nil)
	withKeys(strings.TrimSpace(newKey.stdout))
	cliRun(t, "accounts", "list", "--config", cfg).expect(t, 0, []string{"BODIES"}, nil)
	if !strings.Contains(newKey.stderr, "key id "+k.ID()) {
		t.Errorf("new-key says %q, want its key id %s", newKey.stderr, k.ID())
	}
}
