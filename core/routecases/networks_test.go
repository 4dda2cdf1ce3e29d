package routecases_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/routecases"
)

// Cases give providers' networks (operators, countries) as a phone
// gateway's online SIMs would, so an on-net filter can be checked.
func TestCaseProviderNetworks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfgPath := write("routes.hcl", `
provider "phones" {
  plugin = "sandbox"
}
provider "smpp" {
  plugin = "sandbox"
}
route "mm" {
  match      = "country == 'MM'"
  candidates = ["phones", "smpp"]
  filter     = "len(provider_operators) == 0 || (operator in provider_operators && country in provider_countries)"
}
route "default" {
  default    = true
  candidates = ["smpp"]
}
`)
	cases := write("networks.cases.hcl", `
case "a Telenor SIM online keeps phones" {
  to        = "+959791234567"
  operators = { phones = ["Telenor"] }
  countries = { phones = ["MM"] }
  route     = "mm"
  plan      = ["phones", "smpp"]
}
case "only an Ooredoo SIM online drops phones" {
  to        = "+959791234567"
  operators = { phones = ["Ooredoo"] }
  countries = { phones = ["MM"] }
  route     = "mm"
  plan      = ["smpp"]
}
`)
	cfg, err := config.Load(cfgPath, config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := routecases.Check(t.Context(), &out, cfg.Table, cases); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "2 routing cases, 0 failed") {
		t.Errorf("report:\n%s", out.String())
	}
}
