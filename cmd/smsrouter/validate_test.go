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

// TestConfigValidateExternalPlugins checks external plugins: one that
// checks settings (the callback example) has a misspelt setting reported at
// its line; one that cannot (echo) is reported "not checked" and fails
// nothing.
func TestConfigValidateExternalPlugins(t *testing.T) {
	dir := t.TempDir()
	for _, example := range []string{"echo", "callback"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, example), "../../examples/plugins/"+example).CombinedOutput(); err != nil {
			t.Fatalf("build %s plugin: %v\n%s", example, err, out)
		}
	}
	for _, tc := range []struct {
		name, provider string
		code           int
		inStdout       []string
		inStderr       []string
	}{
		{"not checked", `path = "./echo"
  config = { delay = "5ms", anything = "goes" }`, 0,
			[]string{`provider "p1": settings not checked: plugin echo 0.1.0`, ": OK (1 providers"}, nil},
		{"checked and valid", `path = "./callback"
  config = { base_url = "https://api.example.com", api_key = "k", webhook_secret = "s" }`, 0,
			[]string{": OK (1 providers"}, nil},
		{"misspelt setting", `path = "./callback"
  config = {
    base_url       = "https://api.example.com"
    api_key        = "k"
    webhok_secret  = "s"
  }`, 1, nil, []string{"smsrouter.hcl:11:5: Invalid provider setting", `provider "p1" (`, "setting webhok_secret: unknown setting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "smsrouter.hcl")
			src := fmt.Sprintf("database {\n  driver = \"sqlite\"\n  path   = \"./never-created.db\"\n}\n\nprovider \"p1\" {\n  %s\n}\n\nroute \"default\" {\n  default    = true\n  candidates = [\"p1\"]\n}\n", tc.provider)
			if err := os.WriteFile(cfg, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			cliRun(t, "config", "validate", "--config", cfg).expect(t, tc.code, tc.inStdout, tc.inStderr)
		})
	}
}
