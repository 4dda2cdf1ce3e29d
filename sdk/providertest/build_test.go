package providertest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk/providertest"
)

// TestBuilderPackageSpellings builds main packages spelt the ways a plugin's
// own test spells them and runs each binary. "." once became an empty binary
// name, so the build directory itself was launched ("permission denied");
// and "." in two directories is two packages, not one cached build.
func TestBuilderPackageSpellings(t *testing.T) {
	const isPlugin = "This binary is a plugin"
	other := otherMainModule(t)
	tests := []struct {
		name string
		dir  string // working directory, relative to this package's directory
		pkg  string
		want string // in what the binary prints when run by hand
	}{
		{"dot in the package directory", "../internal/testplugin", ".", isPlugin},
		{"dot slash in the package directory", "../internal/testplugin", "./", isPlugin},
		{"relative path", ".", "../internal/testplugin", isPlugin},
		{"import path", ".", "github.com/smsrouter/smsrouter/sdk/internal/testplugin", isPlugin},
		{"dot in another package's directory", other, ".", "another main package"},
	}
	var b providertest.Builder
	t.Cleanup(b.Close)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Chdir(tc.dir)
			bin := b.Build(t, tc.pkg)
			// Output, not Run: a plugin run by hand exits 1 after saying so.
			out, err := exec.CommandContext(t.Context(), bin).CombinedOutput()
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("running Build(%q) = %s: %v\n%s\nwant output containing %q", tc.pkg, bin, err, out, tc.want)
			}
		})
	}
}

// otherMainModule writes a main package that is not a plugin, in a module of
// its own, and returns its absolute directory.
func otherMainModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/other\n\ngo 1.26.0\n",
		"main.go": "package main\n\nfunc main() { println(\"another main package\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
