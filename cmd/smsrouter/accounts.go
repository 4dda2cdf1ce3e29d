package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/money"
)

const accountsUsage = `want one of:
  smsrouter accounts list
  smsrouter accounts credit ACCOUNT AMOUNT [--reason TEXT]   add credit (a negative AMOUNT takes it away)
  smsrouter accounts limit ACCOUNT AMOUNT|none                how far below zero the balance may go (0: prepaid; none: never refused)
  smsrouter accounts low-balance ACCOUNT AMOUNT|default       the balance.low threshold (default: the api block's low_balance)
  smsrouter accounts bodies ACCOUNT full|masked|none          what messages keep of their text once final (full: sealed; masked: digits hidden; none)
ACCOUNT is an account name or id (acc_...); every subcommand takes --config FILE`

func accountsCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("accounts " + sub)
	cfgPath := fs.String("config", "", "config file whose database holds the accounts (default: the embedded default)")
	reason := fs.String("reason", "", "why the credit changes, kept in the ledger (credit only)")
	change, err := parseAccountsArgs(fs, sub, args)
	if err != nil {
		return err
	}
	change.reason = *reason
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	st, err := openCommandStore(ctx, "accounts "+sub, *cfgPath, cfg, dbMustExist, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	svc := operatorService(st)
	cur := cfg.API.Currency
	if cur == "" && cfg.Table != nil {
		cur = cfg.Table.Currency()
	}
	if sub == "list" {
		return listAccounts(ctx, svc, cur, stdout)
	}
	acc, err := findAccount(ctx, svc, change.account)
	if err != nil {
		return err
	}
	return change.apply(ctx, svc, acc, cur, stdout)
}

// accountChange is what an accounts subcommand other than list changes.
type accountChange struct {
	sub     string
	account string // id or name
	// amount is the credit, limit or threshold; nil for the keyword
	// (limit none, low-balance default).
	amount *money.Amount
	bodies account.MessageBodies
	reason string
}

// parseAccountsArgs checks the arguments, the amount included, before the
// database is touched, so that a typo changes nothing.
func parseAccountsArgs(fs *flag.FlagSet, sub string, args []string) (accountChange, error) {
	var want int
	switch sub {
	case "list":
	case "credit", "limit", "low-balance", "bodies":
		want = 2
	default:
		return accountChange{}, fmt.Errorf("unknown subcommand %q: %s", sub, accountsUsage)
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return accountChange{}, err
	}
	if len(pos) != want {
		return accountChange{}, fmt.Errorf("%d arguments given, want %d: %s", len(pos), want, accountsUsage)
	}
	c := accountChange{sub: sub}
	if want == 0 {
		return c, nil
	}
	c.account = pos[0]
	if sub == "bodies" {
		c.bodies, err = account.ParseMessageBodies(pos[1])
		return c, err
	}
	keyword := map[string]string{"limit": "none", "low-balance": "default"}[sub]
	if keyword == "" || pos[1] != keyword {
		a, err := money.Parse(pos[1])
		if err != nil {
			return accountChange{}, fmt.Errorf("amount: %w", err)
		}
		c.amount = &a
	}
	return c, nil
}

// listAccounts prints every account with its balance and settings.
func listAccounts(ctx context.Context, svc *core.Service, cur string, stdout io.Writer) error {
	accounts, err := svc.Accounts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tBALANCE\tCREDIT LIMIT\tLOW BALANCE\tBODIES\tCREATED")
	for _, a := range accounts {
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", a.ID, a.Name, a.Balance, cur, orWord(a.CreditLimit, "none"),
			orWord(a.LowBalance, "default"), a.MessageBodies, a.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// apply makes the change to acc and says what it did.
func (c accountChange) apply(ctx context.Context, svc *core.Service, acc account.Account, cur string, stdout io.Writer) error {
	switch c.sub {
	case "credit":
		r := strings.TrimSpace(c.reason)
		if r == "" {
			r = "added with smsrouter accounts credit"
		}
		e, err := svc.AddCredit(ctx, acc.ID, *c.amount, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s): %s %s %s, balance now %s %s\n", acc.Name, acc.ID, e.Kind, e.Amount, cur, e.BalanceAfter, cur)
	case "limit":
		if err := svc.SetCreditLimit(ctx, acc.ID, c.amount); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s): credit limit %s\n", acc.Name, acc.ID, orWord(c.amount, "none: sends are never refused for credit"))
	case "low-balance":
		if err := svc.SetLowBalance(ctx, acc.ID, c.amount); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s): low-balance threshold %s\n", acc.Name, acc.ID, orWord(c.amount, "from the config"))
	case "bodies":
		if _, err := svc.SetMessageBodies(ctx, acc.ID, c.bodies); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s): message bodies %s for messages accepted from now on (servers apply it within a minute)\n", acc.Name, acc.ID, c.bodies)
	}
	return nil
}

func orWord(a *money.Amount, word string) string {
	if a == nil {
		return word
	}
	return a.String()
}

// findAccount takes an account id (acc_...) or name.
func findAccount(ctx context.Context, svc *core.Service, ref string) (account.Account, error) {
	acc, err := svc.FindAccount(ctx, ref)
	if errors.Is(err, account.ErrNotFound) {
		return account.Account{}, fmt.Errorf("no account named %q ('smsrouter accounts list' shows them)", ref)
	}
	return acc, err
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments, and returns the positional ones. A negative number is an
// argument (an amount), not a flag.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		for len(args) > 0 && (!strings.HasPrefix(args[0], "-") || isNumber(args[0])) {
			pos, args = append(pos, args[0]), args[1:]
		}
		if len(args) == 0 {
			return pos, nil
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
	}
}

func isNumber(s string) bool {
	_, err := money.Parse(s)
	return err == nil
}
