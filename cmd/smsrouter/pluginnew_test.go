package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginNewBuildsAndPassesTheKit generates a plugin for each
// combination of flags into a directory outside the repository, as an
// author would, and builds and tests it there with the conformance kit,
// against this checkout's sdk.
func TestPluginNewBuildsAndPassesTheKit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests eight generated modules")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	sdkDir, err := filepath.Abs(filepath.Join("..", "..", "sdk"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		var flags []string
		for bit, f := range []string{"--hooks", "--events", "--balance"} {
			if i&(1<<bit) != 0 {
				flags = append(flags, f)
			}
		}
		t.Run("plugin new acme"+strings.Join(append([]string{""}, flags...), " "), func(t *testing.T) {
			work := t.TempDir()
			args := append([]string{"plugin", "new", "acme", "--sdk", sdkDir}, flags...)
			cliRunIn(t, work, args...).expect(t, 0, []string{"wrote plugin acme in acme", "replaced by "}, nil)
			dir := filepath.Join(work, "acme")
			for _, step := range [][]string{{"mod", "tidy"}, {"vet", "./..."}, {"build", "-o", "acme-plugin", "."}, {"test", "-count=1", "./..."}} {
				runGoIn(t, goTool, dir, step...)
			}
		})
	}
}

// runGoIn runs the go command in dir as an author's shell would, outside
// any workspace.
func runGoIn(t *testing.T, goTool, dir string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s in the generated module: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// TestPluginNewInACheckout checks that, run inside a checkout, plugin new
// replaces the sdk with the checkout's, and refuses to write over files.
func TestPluginNewInACheckout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme-sms")
	cliRun(t, "plugin", "new", "--dir", dir, "acme-sms").expect(t, 0, []string{"wrote plugin acme-sms"}, nil)
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sdkDir, err := filepath.Abs(filepath.Join("..", "..", "sdk"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, sdkDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"module example.com/acme-sms\n", "require github.com/smsrouter/smsrouter/sdk v", "replace github.com/smsrouter/smsrouter/sdk => " + rel + "\n"} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	cliRun(t, "plugin", "new", "--dir", dir, "acme-sms").expect(t, 1, nil, []string{"not empty"})
	cliRun(t, "plugin", "new", "Acme").expect(t, 1, nil, []string{`plugin name "Acme"`})
}

// TestSDKGoVersion keeps the go line plugin new writes equal to the sdk's.
func TestSDKGoVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "sdk", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\ngo "+sdkGoVersion+"\n") {
		t.Errorf("sdk/go.mod's go line is not %s; update sdkGoVersion", sdkGoVersion)
	}
}
