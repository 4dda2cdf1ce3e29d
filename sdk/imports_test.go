package sdk_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestImportsStayPluginSide keeps what a plugin author compiles small: no
// package of the sdk module (the sdk, its conformance kit, hooktest, ...)
// may pull in the host (anything of this repository outside sdk/) nor gin,
// gorm or expr, not even transitively.
func TestImportsStayPluginSide(t *testing.T) {
	const module = "github.com/smsrouter/smsrouter"
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list dependencies with")
	}
	forbidden := []string{
		"github.com/gin-gonic/",
		"gorm.io/",
		"github.com/expr-lang/expr",
		"github.com/antonmedv/expr",
	}
	for _, pkg := range sdkPackages(t, goTool, module+"/sdk/...") {
		t.Run(strings.TrimPrefix(pkg, module+"/"), func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps", "-f", "{{.ImportPath}}", pkg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
			}
			deps := 0
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				dep := strings.TrimSpace(sc.Text())
				deps++
				if (dep == module || strings.HasPrefix(dep, module+"/")) &&
					dep != module+"/sdk" && !strings.HasPrefix(dep, module+"/sdk/") {
					t.Errorf("%s depends on host package %s; the sdk must not import the host", pkg, dep)
				}
				for _, f := range forbidden {
					if strings.HasPrefix(dep, f) {
						t.Errorf("%s depends on %s; plugin authors must not have to compile it", pkg, dep)
					}
				}
			}
			if deps == 0 {
				t.Fatalf("go list -deps %s listed nothing", pkg)
			}
		})
	}
}

// sdkPackages lists the packages pattern matches, so a package added to
// the sdk is checked without anyone remembering to list it.
func sdkPackages(t *testing.T, goTool, pattern string) []string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), goTool, "list", pattern)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr.String())
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 2 {
		t.Fatalf("go list %s found %v; want the sdk and its kit at least", pattern, pkgs)
	}
	return pkgs
}

// TestModuleRequiresNothingFromHost keeps sdk a module plugin authors can
// require alone: its module graph must not contain the server module, or
// every plugin would download and version-lock the whole host.
func TestModuleRequiresNothingFromHost(t *testing.T) {
	const host = "github.com/smsrouter/smsrouter"
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list modules with")
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-m", "-f", "{{.Path}}", "all")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, stderr.String())
	}
	mods := strings.Fields(string(out))
	if len(mods) == 0 || mods[0] != host+"/sdk" {
		t.Fatalf("main module is %q, want %s/sdk: sdk/go.mod is missing or renamed", mods, host)
	}
	for _, m := range mods[1:] {
		if m == host || strings.HasPrefix(m, host+"/") {
			t.Errorf("the sdk module requires %s; it must depend on nothing from the host", m)
		}
	}
}
