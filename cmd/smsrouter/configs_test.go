package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// operatorEnv finds env("NAME") calls without a default or with an empty
// one: what an operator must set before the config loads and its providers'
// plugins accept their settings.
var operatorEnv = regexp.MustCompile(`env\("([A-Za-z0-9_]+)"(?:, "")?\)`)

// exampleValue is a value of the kind the variable name says, as a plugin
// checking its settings accepts it.
func exampleValue(name string) string {
	switch {
	case strings.HasSuffix(name, "_PASSWORD"):
		return "secret1" // SMPP allows at most 8 characters
	case strings.HasSuffix(name, "ACCOUNT_SID"):
		return "AC" + strings.Repeat("0", 32)
	case strings.HasSuffix(name, "MESSAGING_SERVICE_SID"):
		return "MG" + strings.Repeat("0", 32)
	case strings.HasSuffix(name, "_PIN"):
		return "1234" // a SIM PIN is 4 to 8 digits
	}
	// Long enough for any secret's minimum length.
	return "example-value-0123456789abcdef"
}

// TestShippedConfigsValidate runs `smsrouter config validate` on every
// config the repository ships, as an operator would after setting the
// environment variables it needs: each must pass with the plugin kinds this
// binary really has, the files it really names, and the settings its
// plugins accept.
func TestShippedConfigsValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "*.hcl"))
	if err != nil || len(files) < 2 {
		t.Fatalf("shipped configs: %v, %v", files, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".cases.hcl") {
			continue // routing cases, run by the config that names them
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range operatorEnv.FindAllSubmatch(src, -1) {
				t.Setenv(string(m[1]), exampleValue(string(m[1])))
			}
			cliRun(t, "config", "validate", "--config", f).expect(t, 0, []string{": OK ("}, nil)
		})
	}
}
