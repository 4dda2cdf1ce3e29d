package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/smsrouter/smsrouter/plugins/builtin"
	"github.com/smsrouter/smsrouter/sdk"
)

// builtinKinds are the plugin kinds this binary serves itself.
func builtinKinds() []string { return builtin.Kinds() }

const usage = `smsrouter: a plugin-based, multi-provider SMS gateway.

Usage:
  smsrouter serve [--config FILE] [--listen ADDR]   run the API and the providers
  smsrouter keys create --name NAME --perm send_sms,receive_sms [--config FILE]
                                                    a key of the first account; permissions: send_sms,
                                                    receive_sms, send_otp, verify_otp, account_admin (its
                                                    own account's keys), system_admin (the installation)
  smsrouter keys list [--config FILE]
  smsrouter keys revoke --id KEY_ID [--config FILE]
  smsrouter accounts list [--config FILE]            accounts with their balance and credit limit
  smsrouter accounts credit ACCOUNT AMOUNT [--reason TEXT] [--config FILE]
                                                    add credit (negative: take it away), kept in the ledger
  smsrouter accounts limit ACCOUNT AMOUNT|none [--config FILE]
                                                    credit limit: 0 = prepaid, none = never refused
  smsrouter accounts low-balance ACCOUNT AMOUNT|default [--config FILE]
                                                    the account's own balance.low threshold
  smsrouter accounts bodies ACCOUNT full|masked|none [--config FILE]
                                                    what the account's messages keep of their text once final
  smsrouter secrets new-key                          print a fresh secret key (base64)
  smsrouter numbers list|add|retire [--config FILE]   numbers applications lease to receive on (docs/numbers.md)
  smsrouter secrets reseal [--config FILE]           seal everything with the newest key, so older keys can go
  smsrouter config validate [--config FILE] [--cases FILE] [--strict]
                                                    check a config file, have each provider's plugin check
                                                    its settings (without connecting), lint the routing rules
                                                    and prices (warnings; errors with --strict), and run the
                                                    routing cases (default: the routing block's cases file)
  smsrouter route explain --to +... --text ... [--config FILE] [--from --kind --account --tag k=v]
                          [--id MSG_ID] [--at TIME] [--balance P=AMOUNT] [--unhealthy P] [--healthy P]
                          [--success-rate P=RATE] [--operators P=A,B] [--countries P=CC] [--json]
                                                    which route and providers a message gets, and why; --at
                                                    is RFC 3339 (2026-12-07T23:10+06:30) or HH:MM (today in the
                                                    routing time zone), the others give a provider's state
                                                    (default: healthy, balance unknown)
  smsrouter route explain --inbound --to NUMBER --text ... [--from SENDER] [--provider P] [--inventory]
                          [--held] [--country CC --operator OP] [--config FILE] [--json]
                                                    which inbound rule decides for a received message: its
                                                    owner, whether a code is looked for, which webhook
  smsrouter outbox [--provider sandbox] [--limit N] [--url URL | --config FILE] [--json]
                                                    what a sandbox provider of the running server "sent",
                                                    newest first (system_admin key in SMSROUTER_API_KEY)
  smsrouter devices list [--provider P] [--url URL | --config FILE] [--json]
                                                    the running server's phones and modem ports: online, last
                                                    seen, battery, SIMs, in flight, sent today (system_admin
                                                    key in SMSROUTER_API_KEY)
  smsrouter devices revoke PROVIDER DEVICE_ID [--url URL | --config FILE]
                                                    forget a phone and its token: it must register again
  smsrouter providers tune NAME [key=value ...] [--url URL | --config FILE] [--json]
                                                    change a running provider's tunables (the sandbox's health,
                                                    refuse_while_down, balance, failure_ratio, reject_ratio,
                                                    delivery_ratio, accept_latency, dlr_delay) to rehearse
                                                    failover; no changes: show them
  smsrouter plugin check [--settings FILE|JSON] [--name NAME] [--hook-url URL] [--hook FILE] BINARY | --builtin KIND
                                                    start a plugin as the host does; with settings configure it,
                                                    ask the upstream for health and balance, and post the HTTP
                                                    request in the --hook file to its hook
  smsrouter plugin new NAME [--hooks] [--events] [--balance] [--module PATH] [--dir DIR] [--sdk DIR]
                                                    write a provider plugin module to start from: it builds and
                                                    passes the conformance kit as written
  smsrouter plugin serve KIND                        (internal) run a built-in plugin

Without --config the embedded default is used: SQLite under ./data (of the current
directory) and the sandbox provider. Only serve and keys create create a database;
keys list, keys revoke and the accounts commands refuse to when there is none, and
route explain, config validate, outbox and plugin check open none. A command that opens a
database names it on stderr.
`

func main() {
	args := os.Args[1:]
	// A built-in plugin is this binary started by the host. It must reach
	// the go-plugin handshake before anything else runs: no config, no
	// database, no output on stdout.
	if len(args) >= 2 && args[0] == "plugin" && args[1] == "serve" && (len(args) != 3 || !isHelp(args[2])) {
		os.Exit(pluginServe(args[2:]))
	}
	if len(args) >= 1 && args[0] == "serve" {
		// Only the long-running server: set here, not in serveCmd, so
		// that tests running serveCmd in process keep their own.
		_, gcDefault = setServeGC(os.LookupEnv)
	}
	os.Exit(run(context.Background(), args, os.Stdout, os.Stderr))
}

func pluginServe(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "smsrouter plugin serve: want one plugin kind (one of %s)\n", strings.Join(builtinKinds(), ", "))
		return 2
	}
	p, ok := builtin.New(args[0])
	if !ok {
		fmt.Fprintf(os.Stderr, "smsrouter plugin serve: unknown built-in plugin kind %q (built-in kinds: %s)\n", args[0], strings.Join(builtinKinds(), ", "))
		return 2
	}
	sdk.Serve(p)
	return 0
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if isHelp(args[0]) || (len(args) == 2 && commandGroups[args[0]] && isHelp(args[1])) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	var err error
	switch cmd := args[0]; {
	case cmd == "serve":
		err = serveCmd(ctx, args[1:], stdout, stderr)
	case cmd == "keys" && len(args) > 1:
		err = keysCmd(ctx, args[1], args[2:], stdout, stderr)
	case cmd == "accounts" && len(args) > 1:
		err = accountsCmd(ctx, args[1], args[2:], stdout, stderr)
	case cmd == "numbers" && len(args) > 1:
		err = numbersCmd(ctx, args[1], args[2:], stdout, stderr)
	case cmd == "secrets" && len(args) > 1:
		err = secretsCmd(ctx, args[1], args[2:], stdout, stderr)
	case cmd == "route" && len(args) > 1 && args[1] == "explain":
		err = routeExplainCmd(ctx, args[2:], stdout)
	case cmd == "config" && len(args) > 1 && args[1] == "validate":
		err = configValidateCmd(ctx, args[2:], stdout)
	case cmd == "outbox":
		err = outboxCmd(ctx, args[1:], stdout)
	case cmd == "devices" && len(args) > 1:
		err = devicesCmd(ctx, args[1], args[2:], stdout)
	case cmd == "providers" && len(args) > 1:
		err = providersCmd(ctx, args[1], args[2:], stdout)
	case cmd == "plugin" && len(args) > 1 && args[1] == "check":
		err = pluginCheckCmd(ctx, args[2:], stdout)
	case cmd == "plugin" && len(args) == 3 && args[1] == "serve" && isHelp(args[2]):
		fmt.Fprintf(stdout, "Usage:\n%s\n", commandUsage("plugin serve"))
	case cmd == "plugin" && len(args) > 1 && args[1] == "new":
		err = pluginNewCmd(args[2:], stdout)
	default:
		fmt.Fprintf(stderr, "smsrouter: unknown command %q\n\n%s", strings.Join(args, " "), usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		name := args[0]
		if len(args) > 1 && commandGroups[name] {
			name += " " + args[1]
		}
		fmt.Fprintf(stderr, "smsrouter %s: %v\n", name, err)
		return 1
	}
	return 0
}

// commandGroups are the commands that take a subcommand; "GROUP --help"
// asks for the usage.
var commandGroups = map[string]bool{"keys": true, "accounts": true, "numbers": true, "secrets": true, "config": true, "route": true, "plugin": true,
	"devices": true, "providers": true}

func isHelp(arg string) bool { return arg == "help" || arg == "-h" || arg == "--help" }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n%s\nFlags:\n", commandUsage(name))
		fs.PrintDefaults()
	}
	return fs
}

// commandUsage is the part of usage that describes command name ("config
// validate"): its lines and their continuation lines.
func commandUsage(name string) string {
	var out []string
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  smsrouter "+name+" ") || line == "  smsrouter "+name:
			in = true
		case in && strings.HasPrefix(line, "      "):
		default:
			in = false
		}
		if in {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return "  smsrouter " + name
	}
	return strings.Join(out, "\n")
}
