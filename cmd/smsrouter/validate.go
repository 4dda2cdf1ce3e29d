package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/routecases"
	"github.com/smsrouter/smsrouter/sdk"
)

// Bounds of asking a plugin about its settings: a plugin that takes longer
// to start or to answer is broken, not busy.
const (
	validateStartTimeout = 20 * time.Second
	validateCallTimeout  = 10 * time.Second
)

func configValidateCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("config validate")
	cfgPath := fs.String("config", "", "config file to check (default: the embedded default)")
	casesPath := fs.String("cases", "", "routing cases file to run (default: the routing block's cases setting)")
	strict := fs.Bool("strict", false, "fail on lint warnings too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" && fs.NArg() == 1 {
		*cfgPath = fs.Arg(0)
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var lintErr error
	if cfg.Warnings != nil {
		fmt.Fprintln(stdout, cfg.Warnings.Error())
		if *strict {
			lintErr = fmt.Errorf("%d lint warnings, and --strict fails on them", len(cfg.Warnings.Diagnostics))
		}
	}
	notes, settingsErr := validateProviderSettings(ctx, cfg)
	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	// The cases run whatever the plugins said: a settings problem and a
	// routing problem are fixed in one go.
	var casesErr error
	if *casesPath == "" {
		*casesPath = cfg.RoutingCases
	}
	if *casesPath != "" {
		casesErr = routecases.Check(ctx, stdout, cfg.Table, *casesPath)
	}
	if err := errors.Join(lintErr, settingsErr, casesErr); err != nil {
		return err
	}
	inbound := ""
	if n := cfg.Inbound.Len(); n > 0 {
		inbound = fmt.Sprintf(", %d inbound rules", n)
	}
	fmt.Fprintf(stdout, "%s: OK (%d providers, %d routes%s, database %s)\n", cfg.Filename, len(cfg.Providers), len(cfg.Routes), inbound, cfg.Database.Driver)
	return nil
}

// validateProviderSettings starts each configured provider's plugin, built
// in or not, and asks it to check the provider's config block without
// connecting anywhere. Problems come back as a *config.Error pointing at
// the settings' lines; notes say which providers went unchecked because
// their plugin cannot check settings.
func validateProviderSettings(ctx context.Context, cfg *config.Config) (notes []string, err error) {
	plugins := &pluginSet{byCommand: map[string]*sdk.Plugin{}}
	defer plugins.killAll()
	var diags hcl.Diagnostics
	for _, p := range cfg.Providers {
		note, pdiags := validateOne(ctx, plugins, cfg, p)
		if note != "" {
			notes = append(notes, note)
		}
		diags = append(diags, pdiags...)
	}
	if len(diags) == 0 {
		return notes, nil
	}
	sort.SliceStable(diags, func(i, j int) bool { return diags[i].Subject.Start.Byte < diags[j].Subject.Start.Byte })
	return notes, &config.Error{Diagnostics: diags}
}

// validateOne asks one provider's plugin about its settings.
func validateOne(ctx context.Context, plugins *pluginSet, cfg *config.Config, p config.Provider) (string, hcl.Diagnostics) {
	prov, err := plugins.launch(p)
	if err != nil {
		return "", hcl.Diagnostics{providerDiag(p, "Plugin does not start", err.Error())}
	}
	vctx, cancel := context.WithTimeout(ctx, validateCallTimeout)
	defer cancel()
	v, ok := prov.(sdk.SettingsValidator)
	if !ok {
		return notChecked(p, prov), nil
	}
	err = v.ValidateSettings(vctx, sdk.Config{Name: p.Name, Settings: p.Settings, HookURL: cfg.HookURL(p.Name)})
	problems := settingErrors(err)
	switch {
	case err == nil:
		return "", nil
	case errors.Is(err, sdk.ErrUnsupported):
		return notChecked(p, prov), nil
	case len(problems) == 0:
		return "", hcl.Diagnostics{providerDiag(p, "Plugin cannot check settings", err.Error())}
	}
	diags := make(hcl.Diagnostics, len(problems))
	for i, se := range problems {
		rng := p.SettingRanges.At(se.Field)
		diags[i] = &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid provider setting",
			Detail:   fmt.Sprintf("provider %q (%s): %v", p.Name, pluginName(p), se),
			Subject:  &rng,
		}
	}
	return "", diags
}

func notChecked(p config.Provider, prov sdk.Provider) string {
	info := prov.Info()
	return fmt.Sprintf("provider %q: settings not checked: plugin %s %s cannot check settings without connecting", p.Name, info.Name, info.Version)
}

func providerDiag(p config.Provider, summary, detail string) *hcl.Diagnostic {
	rng := p.Range
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf("provider %q (%s): %s", p.Name, pluginName(p), detail), Subject: &rng}
}

// pluginName is the provider's plugin as the config names it.
func pluginName(p config.Provider) string {
	if p.Plugin != "" {
		return "plugin " + p.Plugin
	}
	return p.Path
}

// settingErrors lists the *sdk.SettingsError values in err, joined or not.
func settingErrors(err error) []*sdk.SettingsError {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var out []*sdk.SettingsError
	for _, e := range errs {
		var se *sdk.SettingsError
		if errors.As(e, &se) {
			out = append(out, se)
		}
	}
	return out
}

// pluginSet starts each plugin binary once: checking settings keeps
// nothing, so providers of one kind share a process.
type pluginSet struct {
	byCommand map[string]*sdk.Plugin
}

func (s *pluginSet) launch(p config.Provider) (sdk.Provider, error) {
	cmd, checksum, err := pluginCommand(p)
	if err != nil {
		return nil, err
	}
	key := cmd.String()
	if pl, ok := s.byCommand[key]; ok {
		return pl.Provider(), nil
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard})
	pl, err := sdk.Launch(cmd, sdk.LaunchOptions{Logger: log, StartTimeout: validateStartTimeout, Checksum: checksum})
	if err != nil {
		return nil, err
	}
	s.byCommand[key] = pl
	return pl.Provider(), nil
}

func (s *pluginSet) killAll() {
	for _, pl := range s.byCommand {
		pl.Kill()
	}
}

// pluginCommand is how the host starts p's plugin: this binary for a
// built-in kind, the configured binary (pinned when the config says so)
// otherwise.
func pluginCommand(p config.Provider) (*exec.Cmd, []byte, error) {
	if p.Path != "" {
		checksum, err := hex.DecodeString(p.SHA256)
		if err != nil {
			return nil, nil, fmt.Errorf("sha256 %q: %w", p.SHA256, err)
		}
		return exec.Command(p.Path), checksum, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("find this executable to run built-in plugin %q: %w", p.Plugin, err)
	}
	return exec.Command(exe, "plugin", "serve", p.Plugin), nil, nil
}
