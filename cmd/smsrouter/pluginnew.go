package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/smsrouter/smsrouter/cmd/smsrouter/internal/scaffold"
)

const (
	sdkModule = "github.com/smsrouter/smsrouter/sdk"
	// sdkGoVersion is the sdk module's go line: the oldest Go a plugin
	// built on it can use.
	sdkGoVersion = "1.26.0"
	// sdkFallbackVersion is required when this binary cannot tell which sdk
	// it was built with (a build without module information).
	sdkFallbackVersion = "v0.1.0"
)

// pluginNewCmd writes a provider plugin module to start from, which builds
// and passes the conformance kit as written.
func pluginNewCmd(args []string, stdout io.Writer) error {
	fs := newFlags("plugin new")
	o := scaffold.Options{SDKVersion: sdkVersion(), GoVersion: sdkGoVersion}
	fs.BoolVar(&o.Hooks, "hooks", false, "take delivery reports the API posts to the hook URL, signed")
	fs.BoolVar(&o.Events, "events", false, "poll the API for delivery reports")
	fs.BoolVar(&o.Balance, "balance", false, "report the account's credit")
	fs.StringVar(&o.Module, "module", "", "the module path (default example.com/NAME)")
	dir := fs.String("dir", "", "where to write the module (default ./NAME)")
	sdkDir := fs.String("sdk", "", "a checkout's sdk directory for go.mod to replace the sdk with (default: the checkout the current directory is in, if any)")
	name, err := parseWithName(fs, args)
	if err != nil {
		return err
	}
	o.Name = name
	if *dir == "" {
		*dir = name
	}
	if o.Replace, err = sdkReplace(*dir, *sdkDir); err != nil {
		return err
	}
	if err := scaffold.Write(*dir, o); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote plugin %s in %s (sdk %s", name, *dir, o.SDKVersion)
	if o.Replace != "" {
		fmt.Fprintf(stdout, ", replaced by %s", o.Replace)
	}
	fmt.Fprintf(stdout, ")\nnext:\n  cd %s\n  go mod tidy\n  go test ./...\n", *dir)
	return nil
}

// parseWithName parses flags given before or after the one NAME argument.
func parseWithName(fs interface {
	Parse([]string) error
	Args() []string
}, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return "", errors.New("want the new plugin's NAME")
	}
	name := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return "", err
	}
	if len(fs.Args()) > 0 {
		return "", fmt.Errorf("want one NAME, got also %q", fs.Args())
	}
	return name, nil
}

// sdkVersion is the version of the sdk module this binary was built with.
func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == sdkModule && d.Version != "" && d.Version != "(devel)" {
				return d.Version
			}
		}
	}
	return sdkFallbackVersion
}

// sdkReplace is the path go.mod in dir replaces the sdk module with,
// relative to dir: sdkDir when given, else the sdk of the smsrouter
// checkout the current directory is in; "" outside a checkout.
func sdkReplace(dir, sdkDir string) (string, error) {
	if sdkDir == "" {
		found, ok := checkoutSDK()
		if !ok {
			return "", nil
		}
		sdkDir = found
	} else if !isSDKModule(sdkDir) {
		return "", fmt.Errorf("--sdk %s: no go.mod of module %s there", sdkDir, sdkModule)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	absSDK, err := filepath.Abs(sdkDir)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(absDir, absSDK)
	if err != nil {
		return absSDK, nil
	}
	return filepath.ToSlash(rel), nil
}

// checkoutSDK finds the sdk directory of the smsrouter checkout the
// current directory is in.
func checkoutSDK() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if sdk := filepath.Join(dir, "sdk"); isSDKModule(sdk) {
			return sdk, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// isSDKModule reports whether dir holds the sdk module's go.mod.
func isSDKModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if f := bytes.Fields(sc.Bytes()); len(f) == 2 && string(f[0]) == "module" {
			return string(f[1]) == sdkModule
		}
	}
	return false
}
