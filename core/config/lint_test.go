package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
)

// Each testdata/lint file loads, and its warnings (one per deliberate
// mistake) match its golden file.
func TestLintWarnings(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lint", "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no lint fixtures: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			cfg, err := config.Load(path, config.Options{BuiltinKinds: []string{"sandbox"}})
			if err != nil {
				t.Fatalf("a file with only lint mistakes does not load:\n%v", err)
			}
			if cfg.Warnings == nil {
				t.Fatal("no warnings")
			}
			got := []byte(cfg.Warnings.Error() + "\n")
			golden := strings.TrimSuffix(path, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("warnings differ:\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The shipped examples are lint-clean, so a warning in them is news.
func TestGoodFilesHaveNoWarnings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "good", "*.hcl"))
	for _, path := range files {
		cfg, err := config.Load(path, config.Options{BuiltinKinds: []string{"sandbox", "smpp", "twilio", "httpapi", "android"}, LookupEnv: func(string) (string, bool) { return "x", true }})
		if err != nil || cfg.Warnings == nil {
			continue
		}
		t.Errorf("%s: %v", path, cfg.Warnings)
	}
}
