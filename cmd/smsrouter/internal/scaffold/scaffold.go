package scaffold

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.tmpl"))

// Options say what to generate.
type Options struct {
	// Name is the plugin's name: lower-case letters, digits and "-".
	Name string
	// Module is the new module's path; "" means "example.com/" + Name.
	Module string
	// Hooks, Events and Balance add delivery reports posted to the hook
	// URL, delivery reports polled from the API, and the account's credit.
	Hooks, Events, Balance bool
	// SDKVersion is the version of the sdk module go.mod requires.
	SDKVersion string
	// Replace, when set, is where go.mod replaces the sdk module with a
	// checkout's sdk directory.
	Replace string
	// GoVersion is go.mod's go line.
	GoVersion string
}

// data is what the templates see.
type data struct {
	Options
	EnvPrefix string
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// Files renders the module's files, by name; Go files are gofmt'ed.
func Files(o Options) (map[string][]byte, error) {
	if !validName.MatchString(o.Name) {
		return nil, fmt.Errorf("plugin name %q: want lower-case letters, digits and \"-\", starting with a letter, such as \"acme-sms\"", o.Name)
	}
	if o.Module == "" {
		o.Module = "example.com/" + o.Name
	}
	d := data{Options: o, EnvPrefix: strings.ToUpper(strings.ReplaceAll(o.Name, "-", "_"))}
	out := map[string][]byte{}
	for _, t := range templates.Templates() {
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return nil, fmt.Errorf("render %s: %w", t.Name(), err)
		}
		name := strings.TrimSuffix(t.Name(), ".tmpl")
		b := buf.Bytes()
		if strings.HasSuffix(name, ".go") {
			formatted, err := format.Source(b)
			if err != nil {
				return nil, fmt.Errorf("render %s: the template makes invalid Go: %w", t.Name(), err)
			}
			b = formatted
		}
		out[name] = b
	}
	return out, nil
}

// Write renders the module into dir, which must not exist yet or be
// empty, so that nothing of the author's is overwritten.
func Write(dir string, o Options) error {
	files, err := Files(o)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s already exists and is not empty; choose another name or directory", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
