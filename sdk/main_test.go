package sdk_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

// testPluginPath is the test plugin binary, built once for all tests.
var testPluginPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sdk-testplugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a directory for the test plugin:", err)
		os.Exit(1)
	}
	testPluginPath = filepath.Join(dir, "testplugin")
	args := []string{"build", "-o", testPluginPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(goTool(), append(args, "./internal/testplugin")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = os.RemoveAll(dir) }))
}

// goTool finds the go command that runs these tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}
