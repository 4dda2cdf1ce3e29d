package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
)

func keysCmd(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keys " + sub)
	cfgPath := fs.String("config", "", "config file whose database holds the keys (default: the embedded default)")
	var name, permList, id *string
	switch sub {
	case "create":
		name = fs.String("name", "", "a name that says who uses the key, e.g. \"billing app\"")
		permList = fs.String("perm", account.PermSendSMS, "comma-separated permissions: send_sms, receive_sms, send_otp, verify_otp, "+
			"account_admin (manages its own account's keys; \"admin\" means the same), "+
			"system_admin (every account, providers, routing, credit: the installation)")
	case "revoke":
		id = fs.String("id", "", "the key id (key_...) from 'smsrouter keys list'")
	case "list":
	default:
		return fmt.Errorf("unknown subcommand %q: want create, list or revoke", sub)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Check the arguments before touching the database, so a mistyped
	// command creates nothing.
	var perms []string
	switch sub {
	case "create":
		if strings.TrimSpace(*name) == "" {
			return errors.New("--name is required: say who will use the key")
		}
		var err error
		if perms, err = account.ParsePermissions(*permList); err != nil {
			return err
		}
	case "revoke":
		if *id == "" {
			return errors.New("--id is required (see 'smsrouter keys list')")
		}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	use := dbMustExist
	if sub == "create" {
		use = dbMayCreate // a fresh install may make its first key before serving
	}
	st, err := openCommandStore(ctx, "keys "+sub, *cfgPath, cfg, use, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	return keysAct(ctx, operatorService(st), sub, keysArgs{name: name, perms: perms, id: id}, stdout)
}

// keysArgs are the checked arguments of a keys subcommand; each
// subcommand reads only its own.
type keysArgs struct {
	name, id *string
	perms    []string
}

// keysAct does what the keys subcommand asks, through core as the operator.
func keysAct(ctx context.Context, svc *core.Service, sub string, a keysArgs, stdout io.Writer) error {
	switch sub {
	case "create":
		acc, err := svc.DefaultAccount(ctx)
		if err != nil {
			return err
		}
		raw, key, err := svc.CreateAPIKey(ctx, core.Operator, core.NewAPIKey{AccountID: acc.ID, Name: *a.name, Permissions: a.perms})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key %s (%s), permissions %s. Shown only once:\n\n    %s\n\n", key.ID, key.Name, key.Permissions, raw)
	case "list":
		keys, err := svc.APIKeys(ctx, core.Operator, "")
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tPERMISSIONS\tCREATED\tLAST USED\tREVOKED")
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.Permissions,
				k.CreatedAt.UTC().Format(time.RFC3339), when(k.LastUsedAt), when(k.RevokedAt))
		}
		return tw.Flush()
	case "revoke":
		if err := svc.RevokeAPIKey(ctx, core.Operator, *a.id); err != nil {
			return fmt.Errorf("revoke %s: %w", *a.id, err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", *a.id)
	}
	return nil
}

func when(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
