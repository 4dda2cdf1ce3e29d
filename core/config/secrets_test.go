package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/seal"
)

func TestSecretsBlock(t *testing.T) {
	const base = `
%s
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
%s
`
	const (
		keyA = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
		keyB = "HxwdHhscGRoXFBUWExAREg8MDQ4LCAkKBwQFBgMAAQI="
	)
	a, _ := seal.ParseKey(keyA)
	b, _ := seal.ParseKey(keyB)
	pg := "database {\n  driver = \"postgres\"\n  dsn = \"postgres://db/smsrouter\"\n}"
	tests := []struct {
		name, database, block string
		wantFile              string
		wantKeys              []string
		wantErr               string
	}{
		{name: "SQLite: next to the database", wantFile: "data/smsrouter.key"},
		{name: "SQLite elsewhere", database: "database {\n  driver = \"sqlite\"\n  path = \"/var/lib/smsrouter/db.sqlite\"\n}",
			wantFile: "/var/lib/smsrouter/smsrouter.key"},
		{name: "PostgreSQL: next to the config file", database: pg, wantFile: "data/smsrouter.key"},
		{name: "a key file", block: "secrets {\n  key_file = \"/etc/smsrouter/key\"\n}", wantFile: "/etc/smsrouter/key"},
		{name: "keys newest first", block: fmt.Sprintf("secrets {\n  keys = [%q, %q]\n}", keyB, keyA),
			wantFile: "data/smsrouter.key", wantKeys: []string{b.ID(), a.ID()}},
		{name: "a bad key is not quoted", block: "secrets {\n  keys = [\"hunter2hunter2\"]\n}",
			wantErr: "test.hcl:11:10: Invalid secret key: key 1: a secret key is 32 random bytes"},
		{name: "no keys", block: "secrets {\n  keys = []\n}", wantErr: "No keys"},
		{name: "empty key file", block: "secrets {\n  key_file = \"\"\n}", wantErr: "Empty key_file"},
		{name: "unknown attribute", block: "secrets {\n  key = \"x\"\n}", wantErr: "Unsupported argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.database, tt.block), tt.wantErr)
			if cfg == nil {
				if strings.Contains(tt.block, "hunter2") {
					_, err := config.Parse([]byte(fmt.Sprintf(base, tt.database, tt.block)), "test.hcl", opts())
					if strings.Contains(err.Error(), "hunter2") {
						t.Errorf("the error quotes the key: %v", err)
					}
				}
				return
			}
			want := tt.wantFile
			if !strings.HasPrefix(want, "/") {
				want = abs(t, want)
			}
			if cfg.Secrets.KeyFile != want {
				t.Errorf("KeyFile = %q, want %q", cfg.Secrets.KeyFile, want)
			}
			var ids []string
			for _, k := range cfg.Secrets.Keys {
				ids = append(ids, k.ID())
			}
			if strings.Join(ids, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("keys %v, want %v", ids, tt.wantKeys)
			}
		})
	}
}
