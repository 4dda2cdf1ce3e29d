package main

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func target() providertest.Target {
	return providertest.Target{
		Name:     "echo",
		Settings: json.RawMessage(`{"delay":"10ms"}`),
		BadSettings: []json.RawMessage{
			json.RawMessage(`{"delay":"soon"}`),
			json.RawMessage(`{"delay":"-1s"}`),
			json.RawMessage(`{"dealy":"10ms"}`),
		},
		ExpectReports: true,
		ReportTimeout: 5 * time.Second,
	}
}

func TestConformanceInProcess(t *testing.T) {
	tg := target()
	tg.New = func() sdk.Provider { return newProvider() }
	providertest.Run(t, tg)
}

func TestConformanceBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	bin := filepath.Join(t.TempDir(), "echo-plugin")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tg := target()
	tg.Command = func() *exec.Cmd { return exec.Command(bin) }
	providertest.Run(t, tg)
}

// TestImportsOnlySDKAndStdlib keeps the example honest: an external plugin
// needs nothing from smsrouter but the sdk package.
func TestImportsOnlySDKAndStdlib(t *testing.T) {
	const sdkPath = "github.com/smsrouter/smsrouter/sdk"
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			// Standard library paths have no dot in their first element.
			stdlib := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			if path != sdkPath && !stdlib {
				t.Errorf("%s imports %s; the example may import only %s and the standard library", fset.Position(imp.Pos()), path, sdkPath)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no Go files found to check")
	}
}
