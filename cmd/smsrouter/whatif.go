package main

import (
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/smsrouter/smsrouter/routing"
)

// stateFlags collects --balance, --unhealthy, --healthy, --success-rate,
// --operators and --countries:
// the provider state a command-line explanation assumes, since it has no
// live state of its own.
type stateFlags struct {
	patches map[string]routing.ProviderPatch
}

func whatIfFlags(fs *flag.FlagSet) *stateFlags {
	s := &stateFlags{patches: map[string]routing.ProviderPatch{}}
	fs.Func("balance", "assume provider P has this balance, in the routing currency: --balance P=60 (repeatable)", func(v string) error {
		name, f, err := s.number(v, "--balance smpp-a=60")
		if err == nil {
			s.patch(name, func(p *routing.ProviderPatch) { p.Balance = &f })
		}
		return err
	})
	fs.Func("success-rate", "assume provider P accepted this share of recent attempts (0-1): --success-rate P=0.7 (repeatable)", func(v string) error {
		name, f, err := s.number(v, "--success-rate smpp-a=0.7")
		if err == nil && (f < 0 || f > 1) {
			err = fmt.Errorf("success rate %v is not between 0 and 1", f)
		}
		if err == nil {
			s.patch(name, func(p *routing.ProviderPatch) { p.SuccessRate = &f })
		}
		return err
	})
	fs.Func("operators", "assume provider P can send on these networks now (provider_operators): --operators phones=Telenor,Ooredoo (repeatable)", func(v string) error {
		name, list, err := s.list(v, "--operators phones=Telenor,Ooredoo")
		if err == nil {
			s.patch(name, func(p *routing.ProviderPatch) { p.Operators = list })
		}
		return err
	})
	fs.Func("countries", "assume provider P's networks now are in these countries (provider_countries): --countries phones=MM (repeatable)", func(v string) error {
		name, list, err := s.list(v, "--countries phones=MM")
		if err == nil {
			s.patch(name, func(p *routing.ProviderPatch) { p.Countries = list })
		}
		return err
	})
	for _, h := range []struct {
		flag    string
		healthy bool
	}{{"unhealthy", false}, {"healthy", true}} {
		fs.Func(h.flag, "assume provider P is "+h.flag+" (repeatable)", func(v string) error {
			if v == "" {
				return fmt.Errorf("want a provider name, e.g. --%s smpp-b", h.flag)
			}
			healthy := h.healthy
			s.patch(v, func(p *routing.ProviderPatch) { p.Healthy = &healthy })
			return nil
		})
	}
	return s
}

func (s *stateFlags) patch(name string, set func(*routing.ProviderPatch)) {
	p := s.patches[name]
	set(&p)
	s.patches[name] = p
}

func (s *stateFlags) number(v, example string) (string, float64, error) {
	name, num, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return "", 0, fmt.Errorf("want PROVIDER=NUMBER, e.g. %s", example)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not a number, e.g. %s", num, example)
	}
	return name, f, nil
}

// list reads PROVIDER=A,B; PROVIDER= is an empty list (no network online).
func (s *stateFlags) list(v, example string) (string, []string, error) {
	name, items, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return "", nil, fmt.Errorf("want PROVIDER=NAME,NAME, e.g. %s", example)
	}
	out := []string{}
	for _, it := range strings.Split(items, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return name, out, nil
}

// check refuses state for a provider the config does not have: a typo
// would otherwise be silently ignored.
func (s *stateFlags) check(providers []string) error {
	for name := range s.patches {
		if !slices.Contains(providers, name) {
			return fmt.Errorf("provider %q is not configured; configured providers: %s", name, strings.Join(providers, ", "))
		}
	}
	return nil
}
