package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cliResult is what one run of the smsrouter binary left behind.
type cliResult struct {
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// cliRun runs the binary built by TestMain the way an operator would, in
// the package directory so testdata paths work, and fails the test if it
// does not finish in time.
func cliRun(t *testing.T, args ...string) cliResult {
	t.Helper()
	return cliRunIn(t, "", args...)
}

// cliRunIn is cliRun in directory dir ("": the package directory).
func cliRunIn(t *testing.T, dir string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("smsrouter %s did not finish within 60s:\n%s", strings.Join(args, " "), res)
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run smsrouter %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// expect checks the exit code and that each stream holds the given texts.
func (r cliResult) expect(t *testing.T, code int, inStdout, inStderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d, want %d", r.code, code)
	}
	for _, s := range inStdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	for _, s := range inStderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q", s)
		}
	}
	for _, crash := range []string{"panic:", "goroutine "} {
		if strings.Contains(r.stderr, crash) {
			t.Errorf("stderr shows a crash (%q)", crash)
		}
	}
	if t.Failed() {
		t.Logf("smsrouter said:\n%s", r)
	}
}

// cliConfig writes a config with one provider "p1" (providerBody is its
// block's content), its SQLite database in the test's temp dir, and returns
// the config's path.
func cliConfig(t *testing.T, listen, providerBody string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`server {
  listen = %q
}

database {
  driver = "sqlite"
  path   = %q
}

provider "p1" {
%s
}

route "default" {
  default    = true
  candidates = ["p1"]
}
`, listen, filepath.Join(dir, "smsrouter.db"), providerBody)
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// scriptPlugin writes an executable that is no plugin: it complains on
// stderr and exits 1, as a wrong or broken binary does.
func scriptPlugin(t *testing.T, complaint string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "broken-plugin")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("#!/bin/sh\necho %q >&2\nexit 1\n", complaint)), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCLIConfigValidate(t *testing.T) {
	t.Run("bad file lists every problem with its position", func(t *testing.T) {
		res := cliRun(t, "config", "validate", "--config", "testdata/bad.hcl")
		res.expect(t, 1, nil, []string{
			`testdata/bad.hcl:3:12: Invalid listen address: "localhost" is not host:port`,
			`testdata/bad.hcl:7:12: Unknown plugin kind: "carrier-pigeon" is not a built-in plugin kind; built-in kinds: `,
			`testdata/bad.hcl:12:25: Unknown provider: route "default" names provider "nosuch"`,
		})
		if strings.Contains(res.stdout, "OK") {
			t.Errorf("stdout says OK for a bad file:\n%s", res)
		}
		// Every problem line, not only the ones above, carries a position.
		pos := regexp.MustCompile(`^(smsrouter config validate: )?testdata/bad\.hcl:\d+:\d+: \S`)
		for _, line := range strings.Split(strings.TrimSpace(res.stderr), "\n") {
			if !pos.MatchString(line) {
				t.Errorf("stderr line without file:line:column: %q", line)
			}
		}
	})

	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout []string
		inStderr []string
	}{
		{"good file", []string{"--config", "testdata/good.hcl"}, 0,
			[]string{"testdata/good.hcl: OK (1 providers, 1 routes, database sqlite)"}, nil},
		{"good file as argument", []string{"testdata/good.hcl"}, 0, []string{"testdata/good.hcl: OK"}, nil},
		{"inbound rules", []string{"../../core/config/testdata/good/inbound.hcl"}, 0, []string{"OK (1 providers, 1 routes, 3 inbound rules, database sqlite)"}, nil},
		{"bad inbound rules", []string{"../../core/config/testdata/bad/inbound.hcl"}, 1, nil,
			[]string{"testdata/bad/inbound.hcl:11:14: Invalid rule: inbound \"typo\" match: unknown name keywrd; did you mean `keyword`?"}},
		{"embedded default", nil, 0, []string{"default.hcl: OK (1 providers, 1 routes, database sqlite)"}, nil},
		{"missing file", []string{"--config", "testdata/nope.hcl"}, 1, nil, []string{"read config file", "testdata/nope.hcl"}},
		{"unknown flag", []string{"--conf", "testdata/good.hcl"}, 1, nil, []string{"flag provided but not defined: -conf"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cliRun(t, append([]string{"config", "validate"}, tt.args...)...).expect(t, tt.code, tt.inStdout, tt.inStderr)
		})
	}

	t.Run("validating does not create the database", func(t *testing.T) {
		cfg := cliConfig(t, "127.0.0.1:0", `  plugin = "sandbox"`)
		cliRun(t, "config", "validate", "--config", cfg).expect(t, 0, []string{"OK"}, nil)
		if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "smsrouter.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("config validate created or touched the database: %v", err)
		}
	})
}

var (
	rawKeyLine = regexp.MustCompile(`(?m)^\s+(api_live_\S+)$`)
	keyIDRe    = regexp.MustCompile(`\bkey_[0-9a-f]+\b`)
)

// keyRow finds the "keys list" row of key id and returns its columns.
func keyRow(t *testing.T, list cliResult, id string) []string {
	t.Helper()
	for _, line := range strings.Split(list.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == id {
			return f
		}
	}
	t.Fatalf("keys list has no row for %s:\n%s", id, list)
	return nil
}

func TestCLIKeys(t *testing.T) {
	cfg := cliConfig(t, "127.0.0.1:0", `  plugin = "sandbox"`)

	created := cliRun(t, "keys", "create", "--name", "billing", "--perm", "send_sms", "--config", cfg)
	created.expect(t, 0, []string{"permissions send_sms", "Shown only once"}, nil)
	raws := rawKeyLine.FindAllStringSubmatch(created.stdout, -1)
	id := keyIDRe.FindString(created.stdout)
	if len(raws) != 1 || id == "" {
		t.Fatalf("keys create printed %d raw keys and id %q, want one key and its id:\n%s", len(raws), id, created)
	}
	raw := raws[0][1]
	if strings.Count(created.stdout, raw) != 1 || strings.Contains(created.stderr, raw) {
		t.Errorf("the raw key must appear exactly once, on stdout:\n%s", created)
	}

	list := cliRun(t, "keys", "list", "--config", cfg)
	list.expect(t, 0, []string{"ID", "PREFIX", "REVOKED"}, nil)
	if strings.Contains(list.stdout+list.stderr, raw) || strings.Contains(list.stdout, raw[:len(raw)-4]) {
		t.Fatalf("keys list shows the secret key:\n%s", list)
	}
	row := keyRow(t, list, id)
	// ID NAME PREFIX PERMISSIONS CREATED LAST-USED REVOKED
	if len(row) != 7 || row[1] != "billing" || row[2] != raw[:12]+"…" || row[3] != "send_sms" || row[6] != "-" {
		t.Errorf("keys list row = %q, want name billing, prefix %s…, send_sms, not revoked", row, raw[:12])
	}

	failures := []struct {
		name     string
		args     []string
		inStderr []string
	}{
		{"unknown permission", []string{"create", "--name", "x", "--perm", "send_sms,fly"},
			[]string{`unknown permission "fly"`, "send_sms, receive_sms, send_otp, verify_otp, account_admin, system_admin"}},
		{"missing name", []string{"create", "--perm", "send_sms"}, []string{"--name is required"}},
		{"blank name", []string{"create", "--name", "  "}, []string{"--name is required"}},
		{"revoke without id", []string{"revoke"}, []string{"--id is required"}},
		{"revoke unknown id", []string{"revoke", "--id", "key_00000000"}, []string{"key_00000000", "not found"}},
		{"unknown subcommand", []string{"rotate"}, []string{`unknown subcommand "rotate"`, "create, list or revoke"}},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, append(append([]string{"keys"}, tt.args...), "--config", cfg)...)
			res.expect(t, 1, nil, tt.inStderr)
			if strings.Contains(res.stdout, "api_live_") {
				t.Errorf("a failed command printed a key:\n%s", res)
			}
		})
	}
	if n := len(keyIDRe.FindAllString(cliRun(t, "keys", "list", "--config", cfg).stdout, -1)); n != 1 {
		t.Errorf("keys list shows %d keys after the failed creates, want 1", n)
	}

	cliRun(t, "keys", "revoke", "--id", id, "--config", cfg).expect(t, 0, []string{"revoked " + id}, nil)
	list = cliRun(t, "keys", "list", "--config", cfg)
	if row := keyRow(t, list, id); len(row) != 7 || row[6] == "-" {
		t.Errorf("keys list row after revoke = %q, want a revocation time", row)
	}
	// Revoking twice is not an error: the operator's intent holds.
	cliRun(t, "keys", "revoke", "--id", id, "--config", cfg).expect(t, 0, []string{"revoked " + id}, nil)
}

// TestCLICommandsCreateNoDatabase is the regression test for `keys list`
// run from another directory on the default config silently creating an
// empty database under ./data: commands that only read or change what is
// there refuse with the path and the fix, create nothing, and every command
// that opens a database says which one on stderr.
func TestCLICommandsCreateNoDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "smsrouter.db")
	for _, args := range [][]string{
		{"keys", "list"},
		{"keys", "revoke", "--id", "key_00000000"},
		{"accounts", "list"},
		{"accounts", "credit", "default", "1"},
		{"accounts", "limit", "default", "0"},
		{"accounts", "low-balance", "default", "5"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cliRunIn(t, dir, args...).expect(t, 1, nil, []string{"no database at " + db, "--config"})
			if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
				t.Fatalf("smsrouter %s created %s (stat: %v)", strings.Join(args, " "), filepath.Join(dir, "data"), err)
			}
		})
	}
	// route explain reads only the config: it works without a database.
	cliRunIn(t, dir, "route", "explain", "--to", "+959123456789", "--text", "hi").expect(t, 0, []string{"sandbox"}, nil)

	// keys create sets up a database, and says where.
	cliRunIn(t, dir, "keys", "create", "--name", "ops").expect(t, 0, []string{"Shown only once"}, []string{"using sqlite database " + db})
	cliRunIn(t, dir, "keys", "list").expect(t, 0, []string{"ops"}, []string{"using sqlite database " + db})
	if n := strings.Count(cliRunIn(t, dir, "accounts", "list").stderr, "\n"); n != 1 {
		t.Errorf("accounts list wrote %d lines to stderr, want the one naming the database", n)
	}
}

func TestCLIPluginCheck(t *testing.T) {
	echo := filepath.Join(t.TempDir(), "echo")
	if out, err := exec.Command("go", "build", "-o", echo, "../../examples/plugins/echo").CombinedOutput(); err != nil {
		t.Fatalf("build echo plugin: %v\n%s", err, out)
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout []string
		inStderr []string
	}{
		{"echo plugin", []string{echo}, 0, []string{
			"checking " + echo,
			"handshake     ok (pid ",
			"metadata      ok: echo 0.1.0, max batch 100",
			"capabilities  events=true hooks=false health=false",
			"plugin OK",
		}, nil},
		{"echo with good settings", []string{"--settings", `{"delay":"5ms"}`, echo}, 0,
			[]string{"configure     ok", "plugin OK"}, nil},
		{"echo with bad settings", []string{"--settings", `{"delay":"soon"}`, echo}, 1,
			[]string{"handshake     ok", "configure     FAIL"}, []string{`"soon" is not a duration`}},
		{"script that is no plugin", []string{scriptPlugin(t, "cannot open libcarrier.so")}, 1,
			[]string{"handshake     FAIL"}, []string{"not an smsrouter plugin", "cannot open libcarrier.so"}},
		{"missing binary", []string{filepath.Join(t.TempDir(), "nope")}, 1, nil, []string{"is not an executable file"}},
		{"no binary given", nil, 1, nil, []string{"want the path of one plugin binary"}},
	}
	if truePath, err := exec.LookPath("true"); err == nil {
		tests = append(tests, struct {
			name     string
			args     []string
			code     int
			inStdout []string
			inStderr []string
		}{"true", []string{truePath}, 1, []string{"handshake     FAIL"},
			[]string{"handshake failed", "not an smsrouter plugin", "wrote nothing to stderr"}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, append([]string{"plugin", "check"}, tt.args...)...)
			res.expect(t, tt.code, tt.inStdout, tt.inStderr)
			if tt.code != 0 && strings.Contains(res.stdout, "plugin OK") {
				t.Errorf("a failed check says plugin OK:\n%s", res)
			}
		})
	}
}

func TestCLIUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout []string
		inStderr []string
	}{
		{"unknown built-in kind", []string{"plugin", "serve", "nosuchkind"}, 2, nil,
			[]string{`unknown built-in plugin kind "nosuchkind"`, "built-in kinds: ", "sandbox"}},
		{"plugin serve without kind", []string{"plugin", "serve"}, 2, nil, []string{"want one plugin kind", "sandbox"}},
		{"unknown command", []string{"frobnicate", "--now"}, 2, nil, []string{`unknown command "frobnicate --now"`, "Usage:"}},
		{"no command", nil, 2, nil, []string{"Usage:", "smsrouter serve"}},
		{"keys without subcommand", []string{"keys"}, 2, nil, []string{"Usage:"}},
		{"config without subcommand", []string{"config"}, 2, nil, []string{"Usage:"}},
		{"help", []string{"help"}, 0, []string{"Usage:", "smsrouter plugin check [--settings FILE|JSON]"}, nil},
		// --help after a command group is help, not an unknown command.
		{"plugin --help", []string{"plugin", "--help"}, 0, []string{"Usage:", "smsrouter plugin check [--settings FILE|JSON]"}, nil},
		{"keys -h", []string{"keys", "-h"}, 0, []string{"Usage:", "smsrouter keys create"}, nil},
		{"accounts help", []string{"accounts", "help"}, 0, []string{"Usage:", "smsrouter accounts list"}, nil},
		{"config --help", []string{"config", "--help"}, 0, []string{"Usage:", "smsrouter config validate"}, nil},
		{"route --help", []string{"route", "--help"}, 0, []string{"Usage:", "smsrouter route explain"}, nil},
		{"plugin without subcommand", []string{"plugin"}, 2, nil, []string{"Usage:"}},
		// Every subcommand's --help shows its own usage line and its flags.
		{"config validate --help", []string{"config", "validate", "--help"}, 0, nil, []string{"smsrouter config validate [--config FILE]", "-config"}},
		{"route explain --help", []string{"route", "explain", "--help"}, 0, nil, []string{"[--id MSG_ID] [--at TIME]", "-at string"}},
		{"keys create --help", []string{"keys", "create", "--help"}, 0, nil, []string{"smsrouter keys create --name NAME", "-perm"}},
		{"plugin serve --help", []string{"plugin", "serve", "--help"}, 0, []string{"smsrouter plugin serve KIND"}, nil},
		{"plugin unknown subcommand", []string{"plugin", "frob"}, 2, nil, []string{`unknown command "plugin frob"`, "Usage:"}},
		// Run by hand, a built-in plugin says it is one instead of hanging.
		{"built-in plugin run by hand", []string{"plugin", "serve", "sandbox"}, 1, nil, []string{"This binary is a plugin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := cliRun(t, tt.args...)
			res.expect(t, tt.code, tt.inStdout, tt.inStderr)
			if tt.code != 0 && res.stdout != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", res)
			}
		})
	}
}

func TestCLIServeRefusesBrokenProviders(t *testing.T) {
	const zeroPin = "0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name     string
		provider string
		inStderr []string
	}{
		{"unknown plugin kind", `  plugin = "carrier-pigeon"`,
			[]string{"Unknown plugin kind", `"carrier-pigeon"`, "built-in kinds: ", "sandbox"}},
		{"missing binary", fmt.Sprintf("  path = %q", filepath.Join(t.TempDir(), "nope")),
			[]string{"Plugin binary not found", "nope does not exist"}},
		{"binary that is no plugin", fmt.Sprintf("  path = %q", scriptPlugin(t, "license expired")),
			[]string{"start providers", `provider "p1"`, "license expired"}},
		{"binary that fails its pin", fmt.Sprintf("  path = %q\n  sha256 = %q", scriptPlugin(t, "never run"), zeroPin),
			[]string{"start providers", zeroPin, "SHA-256"}},
		{"settings the plugin refuses", "  plugin = \"sandbox\"\n  config = { dlr_delay = \"soon\" }",
			[]string{"start providers", `provider "p1"`, "dlr_delay"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := freeAddr(t)
			cfg := cliConfig(t, addr, tt.provider)
			res := cliRun(t, "serve", "--config", cfg)
			res.expect(t, 1, nil, tt.inStderr)
			// The first API key of a fresh database is shown once only; a
			// run that fails must not spend that once.
			if strings.Contains(res.stdout, "api_live_") {
				t.Errorf("a serve that failed printed the first API key, which is never shown again:\n%s", res)
			}
			if strings.Contains(res.stderr, "never run") {
				t.Errorf("a binary failing its pin was run:\n%s", res)
			}
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				t.Errorf("something listens on %s after serve failed", addr)
			}
		})
	}
}
