package layers_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/smsrouter/smsrouter"

// A rule names the packages (tests aside) that may import forbidden, and
// why; any other importer in scope among the dependencies of from breaks it.
// A listed package that no longer imports it breaks it too, so that the
// lists only shrink.
type rule struct {
	name string
	// from is the packages whose dependencies are checked, as go list
	// takes them (relative to the module root).
	from []string
	// scope is the import path prefix of the importers checked: libraries
	// may import what the project's packages may not.
	scope string
	// forbidden is an import path; its own subpackages are forbidden too,
	// and may import each other.
	forbidden string
	allowed   map[string]string
	// fix says what to do instead.
	fix string
}

var rules = []rule{
	{
		name: "server reaches the store only through core",
		from: []string{"./server/..."}, scope: module, forbidden: module + "/core/store",
		// Empty: the service hands the store its own domain values.
		allowed: map[string]string{},
		fix:     "reach the store through repositories core defines",
	},
	{
		name: "only the plugin host speaks the plugin protocol",
		from: []string{"./core/...", "./server/..."}, scope: module, forbidden: module + "/sdk",
		allowed: map[string]string{
			module + "/core/pluginhost": "the plugin host is where the host speaks the protocol to plugins, translating it to core/message",
		},
		fix: "speak core/message or core/provider (or another type core owns), and translate in core/pluginhost/convert.go",
	},
	{
		name: "core speaks no HTTP but to call out",
		from: []string{"./core/..."}, scope: module + "/core", forbidden: "net/http",
		allowed: map[string]string{
			module + "/core/egress":     "dials outbound HTTP (webhook receivers, plugins' upstreams) through the egress guard",
			module + "/core/pluginhost": "the plugin protocol's hook request and writer carry net/http's Header, translated to core/hook's",
		},
		fix: "return a domain value (or take an interface core owns) and let server render it over HTTP",
	},
}

// TestDependenciesPointInward checks every rule.
func TestDependenciesPointInward(t *testing.T) {
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			importers := importersOf(t, r)
			for pkg := range importers {
				if _, ok := r.allowed[pkg]; !ok {
					t.Errorf("%s imports %s: %s", pkg, r.forbidden, r.fix)
				}
			}
			for pkg := range r.allowed {
				if !importers[pkg] {
					t.Errorf("%s no longer imports %s: remove it from the rule's allowed list", pkg, r.forbidden)
				}
			}
		})
	}
}

// importersOf lists the packages in r's scope, among r.from and their
// dependencies, that import r.forbidden or one of its subpackages.
func importersOf(t *testing.T, r rule) map[string]bool {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, r.from...)
	cmd := exec.Command(goTool, args...)
	cmd.Dir = ".." // the module root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", strings.Join(r.from, " "), err)
	}
	within := func(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }
	importers := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !within(fields[0], r.scope) || within(fields[0], r.forbidden) {
			continue
		}
		if slices.ContainsFunc(fields[1:], func(imp string) bool { return within(imp, r.forbidden) }) {
			importers[fields[0]] = true
		}
	}
	return importers
}
