package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// requiredEnv finds env("NAME") calls without a default: what an operator
// must set before a config loads.
var requiredEnv = regexp.MustCompile(`env\("([A-Za-z0-9_]+)"\)`)

// TestShippedConfigsValidate runs `smsrouter config validate` on every
// config the repository ships, as an operator would after setting the
// environment variables it needs: each must pass with the plugin kinds this
// binary really has and the files it really names.
func TestShippedConfigsValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "*.hcl"))
	if err != nil || len(files) < 2 {
		t.Fatalf("shipped configs: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range requiredEnv.FindAllSubmatch(src, -1) {
				// Long enough for any secret's minimum length.
				t.Setenv(string(m[1]), "example-value-0123456789abcdef")
			}
			cliRun(t, "config", "validate", "--config", f).expect(t, 0, []string{": OK ("}, nil)
		})
	}
}
