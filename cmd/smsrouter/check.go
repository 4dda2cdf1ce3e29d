package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// pluginCheckCmd launches a plugin binary the way the host does and reports
// each step, so a plugin author sees exactly which one fails.
func pluginCheckCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("plugin check")
	settings := fs.String("settings", "", "JSON settings to pass to Configure (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("want the path of one plugin binary")
	}
	path := fs.Arg(0)
	if _, err := exec.LookPath(path); err != nil {
		return fmt.Errorf("%s is not an executable file: %w", path, err)
	}
	fmt.Fprintf(stdout, "checking %s\n", path)
	log := hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: io.Discard})
	start := time.Now()
	pl, err := sdk.Launch(exec.Command(path), sdk.LaunchOptions{Logger: log, StartTimeout: 20 * time.Second})
	if err != nil {
		fmt.Fprintf(stdout, "  handshake     FAIL\n")
		return err
	}
	defer pl.Kill()
	fmt.Fprintf(stdout, "  handshake     ok (pid %d, %s)\n", pl.PID(), time.Since(start).Round(time.Millisecond))
	p := pl.Provider()
	caps := sdk.CapabilitiesOf(p)
	fmt.Fprintf(stdout, "  metadata      ok: %s %s, max batch %d\n", caps.Name, caps.Version, caps.MaxBatchSize)
	fmt.Fprintf(stdout, "  capabilities  events=%t hooks=%t health=%t balance=%t sender_ids=%t status_query=%t\n",
		caps.Events, caps.Hooks, caps.Health, caps.Balance, caps.SenderIDs, caps.StatusQuery)
	var problems []error
	if caps.Name == "" || caps.Version == "" {
		problems = append(problems, errors.New("metadata: Info() must give a Name and a Version"))
	}
	if *settings != "" {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := p.Configure(cctx, sdk.Config{Name: "check", Settings: json.RawMessage(*settings)})
		cancel()
		if err != nil {
			fmt.Fprintf(stdout, "  configure     FAIL: %v\n", err)
			problems = append(problems, fmt.Errorf("configure: %w", err))
		} else {
			fmt.Fprintf(stdout, "  configure     ok\n")
		}
	}
	if hc, ok := p.(sdk.HealthChecker); ok && caps.Health {
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		h, err := hc.Health(hctx)
		cancel()
		switch {
		case err != nil:
			fmt.Fprintf(stdout, "  health        FAIL: %v\n", err)
			problems = append(problems, fmt.Errorf("health: %w", err))
		default:
			fmt.Fprintf(stdout, "  health        ok=%t %s\n", h.OK, h.Detail)
		}
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "plugin OK")
	return nil
}
