package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// Bounds of each step of plugin check: a plugin slower than this is the
// problem the check is for.
const (
	checkStartTimeout = 20 * time.Second
	checkCallTimeout  = 20 * time.Second
)

// pluginCheck is one run of plugin check: it reports each step on out and
// keeps what failed.
type pluginCheck struct {
	out      io.Writer
	problems []error
}

// pluginCheckCmd launches a plugin binary the way the host does and reports
// each step, so a plugin author (or an operator with new credentials) sees
// exactly which one fails: the handshake, the settings, the upstream's
// answer to health and balance, a test hook.
func pluginCheckCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("plugin check")
	settingsArg := fs.String("settings", "", "the provider's settings for Configure: a JSON file, or inline JSON starting with {")
	builtinKind := fs.String("builtin", "", "check a built-in plugin kind of this binary instead of a BINARY")
	name := fs.String("name", "check", "the provider name Configure gets")
	hookURL := fs.String("hook-url", "", "the hook URL Configure gets (default: one under http://127.0.0.1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd, err := checkCommand(*builtinKind, fs.Args())
	if err != nil {
		return err
	}
	settings, err := readSettings(*settingsArg)
	if err != nil {
		return err
	}
	c := &pluginCheck{out: stdout}
	fmt.Fprintf(stdout, "checking %s\n", cmd)
	pl, err := c.launch(cmd)
	if err != nil {
		return err
	}
	defer pl.Kill()
	p := pl.Provider()
	c.metadata(p)
	if settings != nil {
		url := *hookURL
		if url == "" {
			url = "http://127.0.0.1/api/v1/providers/" + *name + "/hooks"
		}
		if c.configure(ctx, p, sdk.Config{Name: *name, Settings: settings, HookURL: url}) {
			c.health(ctx, p)
			c.balance(ctx, p)
		}
	}
	if err := errors.Join(c.problems...); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "plugin OK")
	return nil
}

// checkCommand is the plugin to start: a binary, or a built-in kind.
func checkCommand(builtinKind string, args []string) (*exec.Cmd, error) {
	switch {
	case builtinKind != "" && len(args) == 0:
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find this executable to run built-in plugin %q: %w", builtinKind, err)
		}
		return exec.Command(exe, "plugin", "serve", builtinKind), nil
	case builtinKind != "" || len(args) != 1:
		return nil, errors.New("want the path of one plugin binary, or --builtin KIND")
	}
	if _, err := exec.LookPath(args[0]); err != nil {
		return nil, fmt.Errorf("%s is not an executable file: %w", args[0], err)
	}
	return exec.Command(args[0]), nil
}

// readSettings reads --settings: inline JSON, or the file it names; nil
// when not given, and then the plugin is not configured.
func readSettings(arg string) (json.RawMessage, error) {
	if arg == "" {
		return nil, nil
	}
	raw := []byte(arg)
	if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || trimmed[0] != '{' {
		var err error
		if raw, err = os.ReadFile(arg); err != nil {
			return nil, fmt.Errorf("--settings: %w", err)
		}
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("--settings: %s is not valid JSON", arg)
	}
	return raw, nil
}

func (c *pluginCheck) step(name string, err error, format string, args ...any) bool {
	if err != nil {
		fmt.Fprintf(c.out, "  %-13s FAIL: %v\n", name, err)
		c.problems = append(c.problems, fmt.Errorf("%s: %w", name, err))
		return false
	}
	fmt.Fprintf(c.out, "  %-13s "+format+"\n", append([]any{name}, args...)...)
	return true
}

func (c *pluginCheck) launch(cmd *exec.Cmd) (*sdk.Plugin, error) {
	log := hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard})
	start := time.Now()
	pl, err := sdk.Launch(cmd, sdk.LaunchOptions{Logger: log, StartTimeout: checkStartTimeout})
	if err != nil {
		fmt.Fprintf(c.out, "  handshake     FAIL\n")
		return nil, err
	}
	c.step("handshake", nil, "ok (pid %d, %s)", pl.PID(), time.Since(start).Round(time.Millisecond))
	return pl, nil
}

func (c *pluginCheck) metadata(p sdk.Provider) {
	caps := sdk.CapabilitiesOf(p)
	var err error
	if caps.Name == "" || caps.Version == "" {
		err = errors.New("the plugin's Info() must give a Name and a Version")
	}
	c.step("metadata", err, "ok: %s %s, max batch %d", caps.Name, caps.Version, caps.MaxBatchSize)
	fmt.Fprintf(c.out, "  capabilities  events=%t hooks=%t health=%t balance=%t sender_ids=%t status_query=%t settings_validation=%t\n",
		caps.Events, caps.Hooks, caps.Health, caps.Balance, caps.SenderIDs, caps.StatusQuery, caps.SettingsValidation)
}

func (c *pluginCheck) configure(ctx context.Context, p sdk.Provider, cfg sdk.Config) bool {
	cctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	return c.step("configure", p.Configure(cctx, cfg), "ok")
}

// health asks the upstream link; a link reported down fails the check, as
// it would keep the host from sending.
func (c *pluginCheck) health(ctx context.Context, p sdk.Provider) {
	hc, ok := p.(sdk.HealthChecker)
	if !ok || !sdk.CapabilitiesOf(p).Health {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	h, err := hc.Health(hctx)
	if err == nil && !h.OK {
		err = fmt.Errorf("link down: %s", h.Detail)
	}
	c.step("health", err, "ok %s", h.Detail)
}

// balance asks the upstream for the account's credit: the first call that
// needs the credentials, so a wrong key shows here.
func (c *pluginCheck) balance(ctx context.Context, p sdk.Provider) {
	br, ok := p.(sdk.BalanceReporter)
	if !ok || !sdk.CapabilitiesOf(p).Balance {
		return
	}
	bctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	b, err := br.Balance(bctx)
	if err == nil && b.Currency == "" {
		err = fmt.Errorf("balance %v without a currency", b.Amount)
	}
	c.step("balance", err, "ok %v %s", b.Amount, b.Currency)
}
