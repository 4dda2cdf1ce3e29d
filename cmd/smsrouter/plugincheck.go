package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
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
	hookFile := fs.String("hook", "", "a file with an HTTP request as the upstream sends it to the hook URL (path relative to it), to post to the plugin after configuring it")
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
	if *hookFile != "" && settings == nil {
		return errors.New("--hook needs --settings: the plugin must be configured to take a hook")
	}
	if *hookURL == "" {
		*hookURL = "http://127.0.0.1/api/v1/providers/" + *name + "/hooks"
	}
	hook, err := readHook(*hookFile, *hookURL)
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
	if settings != nil && c.configure(ctx, p, sdk.Config{Name: *name, Settings: settings, HookURL: *hookURL}) {
		c.health(ctx, p)
		c.balance(ctx, p)
		c.devices(ctx, p)
		if hook != nil {
			c.hook(ctx, p, hook)
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
	fmt.Fprintf(c.out, "                numbers=%t devices=%t revoke_device=%t networks=%t tune=%t outbox=%t sent_query=%t\n",
		caps.Numbers, caps.Devices, caps.Revoke, caps.Networks, caps.Tune, caps.Outbox, caps.SentQuery)
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
	refuse := ""
	if h.RefuseWhileDown {
		refuse = " (refuse_while_down: while down, the host answers sends 503 No gateway online)"
	}
	if err == nil && !h.OK {
		err = fmt.Errorf("link down: %s%s", h.Detail, refuse)
	}
	c.step("health", err, "ok %s%s", h.Detail, refuse)
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

// readHook reads --hook: an HTTP request as it reaches the hook URL (a
// request line with the path after the hook URL, headers, a blank line,
// the body), turned into what the host hands HandleHook.
func readHook(file, hookURL string) (*sdk.HookRequest, error) {
	if file == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--hook: %w", err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("--hook %s: not an HTTP request such as \"POST /status HTTP/1.1\" with headers and a body: %w", file, err)
	}
	defer req.Body.Close()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("--hook %s: body: %w", file, err)
	}
	return &sdk.HookRequest{Method: req.Method, URL: strings.TrimRight(hookURL, "/") + req.URL.RequestURI(), Path: req.URL.Path,
		Header: req.Header, Body: body, RemoteAddr: "127.0.0.1:0"}, nil
}

// hook posts the test hook and reports the answer and the events; an
// answer of 400 or more fails the check, since the request is meant to be
// one the plugin takes (a refused signature shows a secret set wrong).
func (c *pluginCheck) hook(ctx context.Context, p sdk.Provider, req *sdk.HookRequest) {
	hh, ok := p.(sdk.HookHandler)
	if !ok || !sdk.CapabilitiesOf(p).Hooks {
		c.step("hook", errors.New("the plugin takes no hooks"), "")
		return
	}
	hctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	rec := hooktest.NewRecorder()
	err := hh.HandleHook(hctx, req, rec)
	switch {
	case err != nil:
	case rec.Err != nil:
		err = rec.Err
	case rec.Code >= 400:
		err = fmt.Errorf("%s %s answered HTTP %d: %s", req.Method, req.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	c.step("hook", err, "ok: %s %s answered HTTP %d, %d event(s)", req.Method, req.Path, max(rec.Code, http.StatusOK), len(rec.Events))
	for _, ev := range rec.Events {
		fmt.Fprintf(c.out, "                %s\n", describeEvent(ev))
	}
}

func describeEvent(ev sdk.Event) string {
	switch {
	case ev.Status != nil:
		return fmt.Sprintf("status %s: %s (%s)", ev.Status.ProviderMessageID, ev.Status.Status, ev.Status.ProviderStatus)
	case ev.Inbound != nil:
		return fmt.Sprintf("inbound %s from %s to %s", ev.Inbound.ProviderMessageID, ev.Inbound.From, ev.Inbound.To)
	}
	return "event " + ev.ID
}
