package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
	"google.golang.org/grpc"
)

const (
	defaultStartTimeout = 30 * time.Second
	// killGrace bounds go-plugin's graceful shutdown (which waits on an RPC
	// and then up to 2 s for the exit) before Kill signals the process.
	killGrace = 5 * time.Second
	// stderrTailSize is how much of a failed plugin's stderr goes into the
	// launch error: enough for a panic's first lines or a config complaint.
	stderrTailSize = 4 << 10
)

// LaunchOptions tune how Launch starts a plugin process.
type LaunchOptions struct {
	// Logger receives the plugin's log lines (Serve writes them to stderr as
	// JSON) and go-plugin's own messages. Tag it with the provider name: the
	// plugin's lines are not. Nil discards them.
	Logger hclog.Logger
	// StartTimeout bounds the handshake and the first Metadata call. Zero
	// means 30 s.
	StartTimeout time.Duration
	// DisableAutoMTLS turns off the per-launch mutual TLS between host and
	// plugin. Keep it on outside benchmarks: it stops other local processes
	// from talking to the plugin's socket.
	DisableAutoMTLS bool
	// Stderr, when set, receives the plugin's raw stderr as well.
	Stderr io.Writer
	// Checksum, when set, is the SHA-256 the executable at cmd.Path must have;
	// Launch refuses to start anything else.
	Checksum []byte
}

// Plugin is a running plugin process as the host sees it.
type Plugin struct {
	client *plugin.Client
	proc   *process
	remote *remoteProvider
}

// Launch starts cmd as a plugin process, completes the handshake and asks
// the plugin for its metadata. cmd must not have been started and must leave
// Stdout and Stderr unset (the handshake uses them). When cmd.Env is nil the
// plugin inherits the host's environment, as with exec.Cmd.
//
// When the handshake fails, the error names the command and quotes the end of
// what the process wrote to stderr, which is usually why.
//
// The caller owns the process: call Kill when done with it, also after it
// exited by itself, to release what Launch set up.
func Launch(cmd *exec.Cmd, opts LaunchOptions) (*Plugin, error) {
	if cmd == nil {
		return nil, errors.New("launching plugin: no command given")
	}
	desc := cmd.String()
	switch {
	case cmd.Process != nil:
		return nil, fmt.Errorf("launching plugin %q: the command was already started", desc)
	case cmd.Stdout != nil || cmd.Stderr != nil:
		return nil, fmt.Errorf("launching plugin %q: leave cmd.Stdout and cmd.Stderr unset; the handshake and logs use them (use LaunchOptions.Stderr for a copy)", desc)
	}
	if len(opts.Checksum) > 0 {
		if err := verifyChecksum(cmd.Path, opts.Checksum); err != nil {
			return nil, fmt.Errorf("launching plugin %q: %w", desc, err)
		}
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	tail := &tailBuffer{max: stderrTailSize}
	var stderr io.Writer = tail
	if opts.Stderr != nil {
		stderr = io.MultiWriter(opts.Stderr, tail)
	}

	proc := &process{cmd: cmd, done: make(chan struct{})}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{pluginSetName: &grpcPlugin{}},
		RunnerFunc:       proc.runnerFunc,
		SkipHostEnv:      cmd.Env != nil,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         !opts.DisableAutoMTLS,
		Managed:          false,
		StartTimeout:     opts.StartTimeout,
		Stderr:           stderr,
		Logger:           logger,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))},
	})
	fail := func(step string, err error) (*Plugin, error) {
		// Kill waits until go-plugin has read all of stderr, so the tail is
		// complete when we quote it.
		client.Kill()
		if !proc.wasStarted() {
			proc.removeSocketDir()
			return nil, fmt.Errorf("launching plugin %q: starting the process: %w", desc, err)
		}
		return nil, fmt.Errorf("launching plugin %q: %s: %w\n%s", desc, step, err, tail.describe())
	}

	rpcClient, err := client.Client()
	if err != nil {
		return fail("handshake failed", err)
	}
	raw, err := rpcClient.Dispense(pluginSetName)
	if err != nil {
		return fail("dispensing the provider", err)
	}
	pc, ok := raw.(pluginpb.ProviderClient)
	if !ok {
		return fail("dispensing the provider", fmt.Errorf("unexpected client type %T", raw))
	}

	ctx, cancel := context.WithTimeout(context.Background(), opts.StartTimeout)
	defer cancel()
	md, err := pc.Metadata(ctx, &pluginpb.MetadataRequest{})
	if err != nil {
		return fail("asking for metadata", err)
	}
	caps := capabilitiesFrom(md)
	logger.Debug("plugin started", "path", cmd.Path, "pid", proc.pid(), "kind", caps.Name, "version", caps.Version)
	return &Plugin{
		client: client,
		proc:   proc,
		remote: &remoteProvider{
			rpc:  pc,
			caps: caps,
			name: fmt.Sprintf("plugin %s (pid %d)", caps.Name, proc.pid()),
			done: proc.done,
		},
	}, nil
}

// Provider is the host's view of the plugin: it implements Provider and every
// optional interface, and reports through Capabilities (which CapabilitiesOf
// uses) what the plugin really supports. Calling a capability the plugin
// lacks returns an error wrapping ErrUnsupported; transport failures wrap
// ErrUnavailable.
func (p *Plugin) Provider() Provider { return p.remote }

// PID is the plugin's process id.
func (p *Plugin) PID() int { return p.proc.pid() }

// Done is closed when the plugin process has exited, for whatever reason.
func (p *Plugin) Done() <-chan struct{} { return p.proc.done }

// Exited reports whether the plugin process has exited.
func (p *Plugin) Exited() bool {
	select {
	case <-p.proc.done:
		return true
	default:
		return false
	}
}

// Kill stops the plugin process: it asks the plugin to stop serving, gives it
// about 2 s to exit (Serve closes the provider on the way out if the host had
// not), and kills it if it does not. It returns once the process is gone.
// For an orderly shutdown call Provider().Close first, with a deadline of
// your choosing, since a provider's Close (an SMPP unbind) may need longer.
// Safe to call more than once.
func (p *Plugin) Kill() {
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		p.client.Kill()
	}()
	timer := time.NewTimer(killGrace)
	defer timer.Stop()
	select {
	case <-finished:
		return
	case <-timer.C:
	}
	// The graceful path is stuck (e.g. the process stopped answering); the
	// kill makes go-plugin's wait return.
	_ = p.proc.Kill(context.Background())
	<-finished
}

func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checking the executable's checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("checking the executable's checksum: %w", err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("executable %s has SHA-256 %x, but the configuration pins %x; refusing to run it", path, got, want)
	}
	return nil
}

// process runs the plugin command for go-plugin. It exists so the host learns
// the moment the process exits (go-plugin offers no such signal) without
// polling.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}

	mu        sync.Mutex
	started   bool
	pidValue  int
	socketDir string
	stdout    io.ReadCloser
	stderr    io.ReadCloser
	doneOnce  sync.Once
}

var _ runner.Runner = (*process)(nil)

func (p *process) runnerFunc(_ hclog.Logger, template *exec.Cmd, socketDir string) (runner.Runner, error) {
	// template carries the environment go-plugin wants the plugin to see
	// (cookie, protocol versions, TLS certificate, socket directory).
	p.cmd.Env = append(p.cmd.Env, template.Env...)
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.stdout, p.stderr, p.socketDir = stdout, stderr, socketDir
	p.mu.Unlock()
	return p, nil
}

func (p *process) Start(context.Context) error {
	if err := p.cmd.Start(); err != nil {
		return err
	}
	p.mu.Lock()
	p.started = true
	p.pidValue = p.cmd.Process.Pid
	p.mu.Unlock()
	return nil
}

func (p *process) Wait(context.Context) error {
	err := p.cmd.Wait()
	p.doneOnce.Do(func() { close(p.done) })
	return err
}

func (p *process) Kill(context.Context) error {
	if !p.wasStarted() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pidValue
}

func (p *process) wasStarted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// removeSocketDir cleans up after a command that never started, which
// go-plugin's Kill skips.
func (p *process) removeSocketDir() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.socketDir != "" {
		_ = os.RemoveAll(p.socketDir)
	}
}

func (p *process) Stdout() io.ReadCloser { return p.stdout }
func (p *process) Stderr() io.ReadCloser { return p.stderr }
func (p *process) Name() string          { return p.cmd.Path }

func (p *process) ID() string {
	if pid := p.pid(); pid != 0 {
		return strconv.Itoa(pid)
	}
	return ""
}

func (p *process) Diagnose(context.Context) string {
	return "This usually means the command is not an smsrouter plugin (it must call sdk.Serve " +
		"and write nothing to stdout before it), was built for another platform, or failed before the handshake."
}

func (p *process) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (p *process) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int

	mu        sync.Mutex
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

func (t *tailBuffer) describe() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	text := strings.TrimSpace(string(t.buf))
	if text == "" {
		return "The plugin wrote nothing to stderr."
	}
	if t.truncated {
		text = "…" + text
	}
	return "The plugin's stderr ended with:\n" + text
}

// capabilitiesFrom reads the plugin's answer to Metadata.
func capabilitiesFrom(md *pluginpb.MetadataResponse) Capabilities {
	caps := Capabilities{
		Info: Info{
			Name:         md.GetName(),
			Version:      md.GetVersion(),
			MaxBatchSize: int(md.GetMaxBatchSize()),
		},
		Events:      md.GetEvents(),
		Hooks:       md.GetHooks(),
		Health:      md.GetHealth(),
		Balance:     md.GetBalance(),
		SenderIDs:   md.GetSenderIds(),
		StatusQuery: md.GetStatusQuery(),
		Outbox:      md.GetOutbox(),
		SentQuery:   md.GetSentQuery(),
		Numbers:     md.GetNumbers(),
		Devices:     md.GetDevices(),
		Revoke:      md.GetRevokeDevice(),
		Networks:    md.GetNetworks(),
		Tune:        md.GetTune(),

		SettingsValidation: md.GetSettingsValidation(),
	}
	if caps.MaxBatchSize <= 0 {
		caps.MaxBatchSize = 1
	}
	return caps
}
