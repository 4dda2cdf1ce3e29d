package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/inbound"
)

// inboundExplainFlags are route explain's flags for an inbound message.
type inboundExplainFlags struct {
	inbound           bool
	provider          string
	held, inInventory bool
	country, operator string
}

func inboundFlags(fs *flag.FlagSet) *inboundExplainFlags {
	f := &inboundExplainFlags{}
	fs.BoolVar(&f.inbound, "inbound", false, "explain an inbound message (--from, --to, --text) by the inbound rules instead of a send by the routes")
	fs.StringVar(&f.provider, "provider", "", "with --inbound: the provider that received it")
	fs.BoolVar(&f.inInventory, "inventory", false, "with --inbound: --to is a number of the inventory")
	fs.BoolVar(&f.held, "held", false, "with --inbound: an account holds --to (implies --inventory)")
	fs.StringVar(&f.country, "country", "", "with --inbound --inventory: the inventory's country of --to (default: libphonenumber's)")
	fs.StringVar(&f.operator, "operator", "", "with --inbound --inventory: the inventory's operator of --to (default: libphonenumber's)")
	return f
}

// explainInbound shows which inbound rule decides for a message and what
// it decides, from the config file alone: whether the number is in the
// inventory and held is what the flags say (the running server reads it
// from the database).
func explainInbound(stdout io.Writer, cfgPath string, f *inboundExplainFlags, to, from, text string, asJSON bool) error {
	if to == "" {
		return errors.New("--to is required, e.g. smsrouter route explain --inbound --from KBZBank --to +959791234567 --text 'Your code is 123456'")
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	// A number a provider block lists is in the inventory on every
	// server started with this config, whatever the flags say.
	listedBy := configNumberProvider(cfg.Providers, to)
	if f.provider == "" {
		f.provider = listedBy
	}
	m := &inbound.Message{Sender: from, Recipient: to, Text: text}
	facts := inbound.NumberFacts{InInventory: f.inInventory || f.held || listedBy != "", Held: f.held}
	env := inbound.EnvOf(f.provider, m, inbound.NumberFacts{})
	if facts.InInventory {
		// The inventory's country and operator, when given, as the server
		// would read them from the number's row.
		facts.Country, facts.Operator = env.Country, env.Operator
		if f.country != "" {
			facts.Country, facts.Operator = f.country, f.operator
		}
		env = inbound.EnvOf(f.provider, m, facts)
	}
	ex := cfg.Inbound.Explain(env)
	if !asJSON {
		if listedBy != "" && !f.inInventory && !f.held {
			fmt.Fprintf(stdout, "(%s is in provider %q's numbers in the config, so in the inventory; --held if an account leases it)\n", to, listedBy)
		}
		fmt.Fprint(stdout, ex.Text())
		return nil
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ex); err != nil {
		return fmt.Errorf("write explanation: %w", err)
	}
	return nil
}

// configNumberProvider is the provider whose numbers attribute lists to
// (E.164, or a short code written "55555/US"), or "".
func configNumberProvider(providers []config.Provider, to string) string {
	for _, p := range providers {
		for _, n := range p.Numbers {
			if number, _, _ := strings.Cut(n, "/"); number == to {
				return p.Name
			}
		}
	}
	return ""
}
