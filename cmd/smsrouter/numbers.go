package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/otpcode"
	"github.com/smsrouter/smsrouter/core/store"
)

const numbersUsage = `want one of:
  smsrouter numbers list [--state STATE] [--country CC]       the inventory of numbers to receive on
  smsrouter numbers add NUMBER [--provider NAME] [--country CC] [--send]
                                                            add a number (E.164, or a short code with --country)
  smsrouter numbers retire NUMBER                             never assign the number again
every subcommand takes --config FILE`

func numbersCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("numbers " + sub)
	cfgPath := fs.String("config", "", "config file whose database holds the numbers (default: the embedded default)")
	state := fs.String("state", "", "list only numbers in this state: available, assigned, quarantined, retired")
	country := fs.String("country", "", "ISO 3166 alpha-2 country: list only its numbers; add: the country of a short code")
	provider := fs.String("provider", "", "add: the provider whose inbound messages reach the number")
	send := fs.Bool("send", false, "add: the number can also send")
	want := 1
	switch sub {
	case "list":
		want = 0
	case "add", "retire":
	default:
		return fmt.Errorf("unknown subcommand %q: %s", sub, numbersUsage)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != want {
		return fmt.Errorf("%d arguments given, want %d: %s", len(pos), want, numbersUsage)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if sub == "add" {
		// Checked before the database is touched, so a typo changes nothing.
		if _, err = core.NumberOf(pos[0], *country); err != nil {
			return err
		}
		if *provider != "" && !hasProvider(cfg, *provider) {
			return fmt.Errorf("no provider %q in the config; numbers receive through one of its providers", *provider)
		}
	}
	st, err := openCommandStore(ctx, "numbers "+sub, *cfgPath, cfg, dbMustExist, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := operatorService(st)
	switch sub {
	case "list":
		return listNumbers(ctx, svc, numbers.Filter{State: numbers.State(*state), Country: strings.ToUpper(*country)}, stdout)
	case "add":
		n, err := svc.AddNumber(ctx, pos[0], *country, *provider, true, *send)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s) added, available\n", n.E164, strings.TrimSpace(n.Country+" "+n.Operator))
	case "retire":
		if err := svc.RetireNumber(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s retired: it is never assigned again\n", pos[0])
	}
	return nil
}

func hasProvider(cfg *config.Config, name string) bool {
	for _, p := range cfg.Providers {
		if p.Name == name {
			return true
		}
	}
	return false
}

func listNumbers(ctx context.Context, svc *core.Service, f numbers.Filter, stdout io.Writer) error {
	ns, err := svc.Inventory(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tCOUNTRY\tOPERATOR\tPROVIDER\tSOURCE\tSTATE\tHOLDER\tUNTIL")
	for _, n := range ns {
		until := ""
		if n.State == numbers.Assigned || n.State == numbers.Quarantined {
			until = n.LeaseUntil.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.E164, n.Country, n.Operator, n.Provider, n.Source, n.State, n.Holder, until)
	}
	return tw.Flush()
}

// numberOptions are the numbers block and the assignment prices.
func numberOptions(cfg *config.Config) core.NumberOptions {
	o := core.NumberOptions{Policy: numberPolicy(cfg.Numbers), Prices: map[string]config.NumberPrices{}}
	for _, p := range cfg.Providers {
		o.Prices[p.Name] = p.AssignmentPrices
	}
	return o
}

func numberPolicy(c config.Numbers) numbers.Policy {
	return numbers.Policy{Lease: c.Lease, MaxLease: c.MaxLease, Quarantine: c.Quarantine, RefundUnused: c.RefundUnused}
}

// codeFinder finds one-time codes in messages to leased numbers with the
// otp block's extract patterns first, then the built-in rules.
func codeFinder(cfg config.OTP) (numbers.CodeFinder, error) {
	patterns := make([]otpcode.Pattern, len(cfg.Extract))
	for i, p := range cfg.Extract {
		patterns[i] = otpcode.Pattern{Sender: p.Sender, Regexp: p.Pattern}
	}
	ex, err := otpcode.New(patterns...)
	if err != nil {
		return nil, fmt.Errorf("otp extract patterns: %w", err)
	}
	return ex.Extract, nil
}

// syncConfigNumbers puts the provider blocks' numbers into the inventory.
func syncConfigNumbers(ctx context.Context, st *store.Store, cfg *config.Config, log hclog.Logger) error {
	listed := make([]core.ConfigNumbers, 0, len(cfg.Providers))
	for _, p := range cfg.Providers {
		listed = append(listed, core.ConfigNumbers{Provider: p.Name, Numbers: p.Numbers})
	}
	total, added, err := core.SyncConfigNumbers(ctx, st, listed)
	if err != nil || total == 0 {
		return err
	}
	log.Info("numbers from the config in the inventory", "listed", total, "added", added)
	return nil
}
