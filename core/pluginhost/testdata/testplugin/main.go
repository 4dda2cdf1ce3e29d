// Command testplugin is a plugin whose misbehaviour the host's tests choose
// through its settings: refuse its configuration, die shortly after being
// configured, the way a plugin with a fatal bug crash-loops, or hang in
// Send after its "upstream" took the messages, to be killed there. Run
// under a name ending in "-sentquery" it answers sdk.SentQuerier from that
// upstream.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	if strings.HasSuffix(filepath.Base(os.Args[0]), "-sentquery") {
		sdk.Serve(&sentProvider{})
		return
	}
	sdk.Serve(&provider{})
}

// settings is {"reject": "why"}, {"exit_after": "150ms"} or
// {"upstream_dir": "/path"}.
type settings struct {
	// Reject, when set, is the error Configure returns.
	Reject string `json:"reject"`
	// ExitAfter, when set, makes the process exit with status 3 this long
	// after Configure returned: long enough for the host to see the launch
	// succeed, short enough to fail long before any stability threshold.
	ExitAfter string `json:"exit_after"`
	// UpstreamDir, when set, is the provider's side of the wire: Send
	// appends each message it takes to taken.log there, and the first Send
	// of all then hangs (marking hung-once), until the test kills the
	// process.
	UpstreamDir string `json:"upstream_dir"`
}

type provider struct{ upstream string }

func (p *provider) Info() sdk.Info {
	return sdk.Info{Name: "testplugin", Version: "0.0.1", MaxBatchSize: 10}
}

func (p *provider) Configure(_ context.Context, cfg sdk.Config) error {
	var s settings
	if err := sdk.DecodeSettings(cfg.Settings, &s); err != nil {
		return fmt.Errorf("testplugin: %w", err)
	}
	if s.Reject != "" {
		return errors.New(s.Reject)
	}
	p.upstream = s.UpstreamDir
	if s.ExitAfter != "" {
		d, err := time.ParseDuration(s.ExitAfter)
		if err != nil {
			return fmt.Errorf("testplugin setting exit_after: %w", err)
		}
		time.AfterFunc(d, func() { os.Exit(3) })
	}
	return nil
}

func (p *provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	var log strings.Builder
	for i, m := range msgs {
		out[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: "test-" + m.ID}
		fmt.Fprintf(&log, "%s %s\n", m.ID, out[i].ProviderMessageID)
	}
	if p.upstream == "" {
		return out, nil
	}
	f, err := os.OpenFile(filepath.Join(p.upstream, "taken.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(log.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if f, err := os.OpenFile(filepath.Join(p.upstream, "hung-once"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
		f.Close()
		<-ctx.Done() // the answer never comes: the test kills the process
		return nil, ctx.Err()
	}
	return out, nil
}

// sentProvider finds the messages its upstream took by their host id.
type sentProvider struct{ provider }

func (p *sentProvider) QuerySent(_ context.Context, ids []string) ([]sdk.SendResult, error) {
	data, err := os.ReadFile(filepath.Join(p.upstream, "taken.log"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	took := map[string]string{}
	for line := range strings.Lines(string(data)) {
		if id, pid, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
			took[id] = pid
		}
	}
	var out []sdk.SendResult
	for _, id := range ids {
		if pid, ok := took[id]; ok {
			out = append(out, sdk.SendResult{MessageID: id, Outcome: sdk.Accepted, ProviderMessageID: pid})
		}
	}
	return out, nil
}

func (p *provider) Close(context.Context) error { return nil }
