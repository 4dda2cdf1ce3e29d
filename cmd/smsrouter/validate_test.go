package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestConfigValidateAsksPlugins checks that config validate catches a
// misspelt setting of every built-in plugin, with the file and line of the
// setting, by asking the plugin process itself.
func TestConfigValidateAsksPlugins(t *testing.T) {
	for _, tc := range []struct {
		file, at, setting string
	}{
		{"smpp.hcl", "testdata/validate/smpp.hcl:12:5: ", "pasword"},
		{"httpapi.hcl", "testdata/validate/httpapi.hcl:12:5: ", "default_sendr"},
		{"twilio.hcl", "testdata/validate/twilio.hcl:13:5: ", "requst_timeout"},
		{"sandbox.hcl", "testdata/validate/sandbox.hcl:19:5: ", "dlr_delya"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res := cliRun(t, "config", "validate", "--config", filepath.Join("testdata", "validate", tc.file))
			res.expect(t, 1, nil, []string{tc.at + "Invalid provider setting", "setting " + tc.setting + ": "})
		})
	}
}

// TestConfigValidateNotChecked checks that an external plugin that cannot
// check settings leaves them unchecked, says so, and fails nothing.
func TestConfigValidateNotChecked(t *testing.T) {
	dir := t.TempDir()
	echo := filepath.Join(dir, "echo")
	if out, err := exec.Command("go", "build", "-o", echo, "../../examples/plugins/echo").CombinedOutput(); err != nil {
		t.Fatalf("build echo plugin: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "smsrouter.hcl")
	src := fmt.Sprintf(`database {
  driver = "sqlite"
  path   = "./never-created.db"
}

provider "echo-1" {
  path   = %q
  config = { delay = "5ms", anything = "goes" }
}

route "default" {
  default    = true
  candidates = ["echo-1"]
}
`, echo)
	if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cliRun(t, "config", "validate", "--config", cfg).expect(t, 0,
		[]string{`provider "echo-1": settings not checked: plugin echo 0.1.0`, ": OK (1 providers"}, nil)
}
