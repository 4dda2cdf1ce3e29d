package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

// outsideTest is this file: the copy leaves it out, or the copy's tests would
// copy the example again.
const outsideTest = "outside_test.go"

// TestBuildsOutsideTheRepository copies the example into a directory of its
// own, as an author starting a plugin would, makes it a module that requires
// the sdk module (with a replace to this checkout's sdk, the README's recipe
// for working from a checkout), and builds, launches and tests it there. It catches
// an sdk that only builds inside this repository, an example that imports
// more than the sdk, and a README build line that works only here.
func TestBuildsOutsideTheRepository(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH: cannot build the example the way an author would")
	}
	sdkDir, err := filepath.Abs(filepath.Join("..", "..", "..", "sdk"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyExample(t, dir)
	run := func(args ...string) { runGo(t, goTool, dir, args...) }
	// The README's commands for a plugin of one's own, from a checkout.
	run("mod", "init", "example.com/echo-plugin")
	run("mod", "edit", "-require=github.com/smsrouter/smsrouter/sdk@v0.1.0",
		"-replace=github.com/smsrouter/smsrouter/sdk="+sdkDir)
	run("mod", "tidy")
	run("vet", "./...")
	run("build", "-o", "echo-plugin", ".") // the README's build line
	assertIsEchoPlugin(t, filepath.Join(dir, "echo-plugin"))
	run("test", "-count=1", "./...") // the conformance kit, in process and as a binary
}

// copyExample copies the example's files, but not this test, into dir.
func copyExample(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == outsideTest {
			continue
		}
		data, err := os.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runGo runs the go command in dir as an author's shell would, outside any
// workspace, and fails the test with its output.
func runGo(t *testing.T, goTool, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s in a copy of the example outside the repository: %v\n%s",
			strings.Join(args, " "), err, out.String())
	}
}

// assertIsEchoPlugin launches bin the way the host does.
func assertIsEchoPlugin(t *testing.T, bin string) {
	t.Helper()
	p, err := sdk.Launch(exec.Command(bin), sdk.LaunchOptions{})
	if err != nil {
		t.Fatalf("launching the example built outside the repository: %v", err)
	}
	defer p.Kill()
	if got := p.Provider().Info().Name; got != "echo" {
		t.Fatalf("the example built outside the repository is provider %q, want echo", got)
	}
}
