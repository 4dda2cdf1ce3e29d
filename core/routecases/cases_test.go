package routecases_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/routecases"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func table(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata", "routes.hcl"), config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Each cases file's report is a golden file: passing cases say ok, failing
// ones show the expectation against the decision and why it was made.
func TestReport(t *testing.T) {
	cfg := table(t)
	tests := []struct {
		file   string
		failed int
	}{
		{"pass.cases.hcl", 0},
		{"fail.cases.hcl", 5},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var out bytes.Buffer
			err := routecases.Check(t.Context(), &out, cfg.Table, filepath.Join("testdata", tt.file))
			if (err != nil) != (tt.failed > 0) {
				t.Fatalf("Check = %v, want %d failures\n%s", err, tt.failed, out.String())
			}
			if tt.failed > 0 && !strings.Contains(err.Error(), "routing cases in") {
				t.Errorf("error = %v", err)
			}
			golden(t, strings.TrimSuffix(tt.file, ".hcl")+".golden", out.Bytes())
		})
	}
}

// A cases file with mistakes is refused with every problem at its line.
func TestBadCasesFile(t *testing.T) {
	_, err := routecases.Load(filepath.Join("testdata", "bad.cases.hcl"))
	if err == nil {
		t.Fatal("a bad cases file loaded")
	}
	golden(t, "bad.cases.golden", []byte(err.Error()+"\n"))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
