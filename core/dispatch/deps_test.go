package dispatch_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const sdkPkg = "github.com/smsrouter/smsrouter/sdk"

// sdkSpeakers are the packages dispatch depends on that may import the
// plugin protocol, with why.
var sdkSpeakers = map[string]string{
	"github.com/smsrouter/smsrouter/core/pluginhost": "the plugin host is where the host speaks the protocol to plugins, translating it to core/message",
}

// TestDispatchSpeaksHostTypesOnly fails when dispatch, or a package it
// depends on (tests aside), imports sdk other than as listed in
// sdkSpeakers: the dispatcher decides in the host's words (core/message),
// so that a change of the plugin protocol is no change of its rules.
func TestDispatchSpeaksHostTypesOnly(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	importers := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], sdkPkg) {
			continue // the protocol's own packages
		}
		if slices.Contains(fields[1:], sdkPkg) {
			importers[fields[0]] = true
		}
	}
	for pkg := range importers {
		if _, ok := sdkSpeakers[pkg]; !ok {
			t.Errorf("%s imports %s, and dispatch depends on it: speak core/message, and translate in core/pluginhost", pkg, sdkPkg)
		}
	}
	for pkg := range sdkSpeakers {
		if !importers[pkg] {
			t.Errorf("%s no longer brings %s into dispatch: remove it from sdkSpeakers", pkg, sdkPkg)
		}
	}
}
