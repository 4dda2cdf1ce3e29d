package scaffold_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/cmd/smsrouter/internal/scaffold"
)

var update = flag.Bool("update", false, "rewrite the golden files with what the templates make")

// combinations are every choice of plugin new's flags, named as the golden
// directories are.
func combinations() map[string]scaffold.Options {
	out := map[string]scaffold.Options{}
	for i := range 8 {
		o := scaffold.Options{Name: "acme", Hooks: i&1 != 0, Events: i&2 != 0, Balance: i&4 != 0,
			SDKVersion: "v0.1.0", Replace: "../smsrouter/sdk", GoVersion: "1.26.0"}
		var parts []string
		for _, f := range []struct {
			on   bool
			name string
		}{{o.Hooks, "hooks"}, {o.Events, "events"}, {o.Balance, "balance"}} {
			if f.on {
				parts = append(parts, f.name)
			}
		}
		if len(parts) == 0 {
			parts = []string{"plain"}
		}
		out[strings.Join(parts, "-")] = o
	}
	return out
}

// TestGolden compares what each combination of flags makes with the
// golden files in testdata (go test -update rewrites them).
func TestGolden(t *testing.T) {
	for name, o := range combinations() {
		t.Run(name, func(t *testing.T) {
			files, err := scaffold.Files(o)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join("testdata", name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				writeGolden(t, dir, files)
				return
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("%v (run go test -update to write the golden files)", err)
			}
			if len(entries) != len(files) {
				t.Errorf("%s has %d files, the templates make %d", dir, len(entries), len(files))
			}
			for file, got := range files {
				want, err := os.ReadFile(filepath.Join(dir, file+".golden"))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (%v); run go test -update and review the diff", file, dir, err)
				}
			}
		})
	}
}

// writeGolden writes files as NAME.golden, which Go tools leave alone.
func writeGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, b := range files {
		if err := os.WriteFile(filepath.Join(dir, file+".golden"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBadNames(t *testing.T) {
	for _, name := range []string{"", "Acme", "1sms", "acme sms", "acme/sms", "../acme"} {
		if _, err := scaffold.Files(scaffold.Options{Name: name}); err == nil {
			t.Errorf("Files accepted plugin name %q", name)
		}
	}
}

// TestWriteRefusesAFullDirectory checks that nothing of the author's is
// overwritten.
func TestWriteRefusesAFullDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main // mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := scaffold.Write(dir, scaffold.Options{Name: "acme"}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Write into a directory with files: error %v, want one saying it is not empty", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(b) != "package main // mine\n" {
		t.Errorf("main.go was overwritten: %q", b)
	}
}
