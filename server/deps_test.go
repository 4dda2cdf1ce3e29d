package server_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const storePkg = "github.com/smsrouter/smsrouter/core/store"

// storeImporters are the packages server depends on that may still import
// the store, with why. It is empty: the service hands the store its own
// domain values, and server depends on no store at all. Keep it that way.
var storeImporters = map[string]string{}

// TestServerReachesTheStoreOnlyThroughCore fails when server, or a package
// it depends on (tests aside), imports the store other than as listed in
// storeImporters: the API talks to core, and core keeps the rules. It also
// fails when a listed package no longer imports the store, so that the
// list only shrinks.
func TestServerReachesTheStoreOnlyThroughCore(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	importers := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && slices.Contains(fields[1:], storePkg) {
			importers[fields[0]] = true
		}
	}
	for pkg := range importers {
		if _, ok := storeImporters[pkg]; !ok {
			t.Errorf("%s imports %s, and server depends on it: reach the store through repositories core defines", pkg, storePkg)
		}
	}
	for pkg := range storeImporters {
		if !importers[pkg] {
			t.Errorf("%s no longer brings %s into server: remove it from storeImporters", pkg, storePkg)
		}
	}
}
