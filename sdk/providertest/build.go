package providertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Builder compiles plugin main packages for tests, each once per test
// process, so every conformance or end-to-end test of a plugin binary runs
// the same build. The zero value is ready to use; call Close from TestMain to
// remove the binaries.
//
//	var plugins providertest.Builder
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		plugins.Close()
//		os.Exit(code)
//	}
type Builder struct {
	mu    sync.Mutex
	dir   string
	built map[string]build
}

type build struct {
	path string
	err  error
}

// Build returns the path of a binary built from the main package pkg, a
// package path or a directory relative to the test's working directory such
// as "./testdata/myplugin". Under -short it skips the test, since building
// takes seconds; without a go command it skips too.
func (b *Builder) Build(t testing.TB, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a plugin binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	key, err := buildKey(pkg)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if r, ok := b.built[key]; ok {
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.path
	}
	if b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "plugin-builds-"); err != nil {
			t.Fatal(err)
		}
		b.built = map[string]build{}
	}
	r := build{path: filepath.Join(b.dir, binaryName(pkg, len(b.built)))}
	args := []string{"build", "-o", r.path}
	if raceEnabled {
		// A plugin built like its test finds races on its side of the
		// boundary too.
		args = append(args, "-race")
	}
	if out, err := exec.Command(goTool, append(args, pkg)...).CombinedOutput(); err != nil {
		r.err = fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	b.built[key] = r
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// buildKey identifies the package pkg names: its import path, or for a
// directory its absolute path, since "." in two tests' working directories
// is two packages.
func buildKey(pkg string) (string, error) {
	if pkg != "." && pkg != ".." && !strings.HasPrefix(pkg, "./") && !strings.HasPrefix(pkg, "../") {
		return pkg, nil
	}
	abs, err := filepath.Abs(pkg)
	if err != nil {
		return "", fmt.Errorf("building plugin %s: %w", pkg, err)
	}
	return abs, nil
}

// binaryName names the n-th binary built from pkg: the package's last path
// element, for reading process lists and logs, and n, so that two packages
// with the same last element ("./a/plugin", "./b/plugin") stay apart. A
// package spelt as a directory with no name of its own (".", "./", "..")
// is called "plugin": naming it after the empty string launched the build
// directory itself.
func binaryName(pkg string, n int) string {
	base := filepath.Base(filepath.Clean(pkg))
	if base == "." || base == ".." || base == string(filepath.Separator) {
		base = "plugin"
	}
	return fmt.Sprintf("%s-%d", base, n)
}

// Close removes every binary the Builder made.
func (b *Builder) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir, b.built = "", nil
	}
}
