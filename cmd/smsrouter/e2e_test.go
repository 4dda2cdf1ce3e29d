package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/smsrouter/smsrouter/core/seal"
)

// binary is smsrouter built once for the end-to-end tests, which run it as
// operators do: a host process with its plugins as child processes.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smsrouter-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "smsrouter")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build smsrouter: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type hostProc struct {
	cmd    *exec.Cmd
	addr   string
	key    string
	stderr *lineLog
}

// lineLog keeps a process's output and lets a test wait for a line.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	added chan struct{}
	done  chan struct{}
}

func newLineLog(r io.Reader) *lineLog {
	l := &lineLog{added: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, s.Text())
			l.mu.Unlock()
			select {
			case l.added <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

// await returns the first submatch of the first line matching re.
func (l *lineLog) await(t *testing.T, re *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		l.mu.Lock()
		for ; seen < len(l.lines); seen++ {
			if m := re.FindStringSubmatch(l.lines[seen]); m != nil {
				l.mu.Unlock()
				return m[len(m)-1]
			}
		}
		l.mu.Unlock()
		select {
		case <-l.added:
		case <-l.done:
			l.mu.Lock()
			rest := len(l.lines) - seen
			l.mu.Unlock()
			if rest == 0 {
				t.Fatalf("output ended before a line matched %s:\n%s", re, l.String())
			}
		case <-deadline.C:
			t.Fatalf("no line matched %s within %s:\n%s", re, timeout, l.String())
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server {
  listen = "127.0.0.1:0"
}
database {
  driver = "sqlite"
  path   = %q
}
provider "sandbox" {
  plugin = "sandbox"
  config = {
    accept_latency = "2ms"
    dlr_delay      = "50ms"
    seed           = 42
  }
  poll_status_after = "1s"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
# The tests send more than the default 100 messages a minute.
api {
  sms_per_minute = 0
}
# The tests' webhook receivers listen on loopback, which webhooks may not
# reach by default.
webhooks {
  allowed_networks = ["127.0.0.0/8"]
}
`, filepath.Join(dir, "data", "smsrouter.db"))
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startHost(t *testing.T, cfgPath string) *hostProc {
	t.Helper()
	h, out := spawnHost(t, cfgPath)
	h.key = out.await(t, keyLine, 60*time.Second)
	h.addr = h.stderr.await(t, servingLine, 60*time.Second)
	return h
}

// What serve prints: the first API key on stdout, its address on stderr.
var (
	keyLine     = regexp.MustCompile(`^\s+(api_live_\S+)$`)
	servingLine = regexp.MustCompile(`smsrouter serving.*listen=(\S+)`)
)

// spawnHost starts `smsrouter serve` with cfgPath, killed when the test
// ends, and returns it with its stdout.
func spawnHost(t *testing.T, cfgPath string) (*hostProc, *lineLog) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", cfgPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &hostProc{cmd: cmd, stderr: newLineLog(stderr)}, newLineLog(stdout)
}

func (h *hostProc) call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+h.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+h.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func (h *hostProc) send(t *testing.T, text string) string {
	t.Helper()
	code, body := h.call(t, "POST", "/api/v1/sms/send", fmt.Sprintf(`{"to":"+959123456789","message":%q}`, text))
	if code != http.StatusAccepted {
		t.Fatalf("send: HTTP %d %v", code, body)
	}
	return body["message_id"].(string)
}

var finalStatuses = map[string]bool{"delivered": true, "failed": true, "expired": true, "rejected": true, "undeliverable": true}

// awaitFinal polls each message's status, as applications do, until every
// one is final.
func (h *hostProc) awaitFinal(t *testing.T, ids []string, timeout time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	counts := map[string]int{}
	for _, id := range ids {
		for {
			code, body := h.call(t, "GET", "/api/v1/sms/status/"+id, "")
			if code != http.StatusOK {
				t.Fatalf("status %s: HTTP %d %v", id, code, body)
			}
			st, _ := body["status"].(string)
			if finalStatuses[st] {
				counts[st]++
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s is still %q after %s; host log:\n%s", id, st, timeout, h.stderr)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	return counts
}

type providerState struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	PID      int    `json:"pid"`
	Restarts int    `json:"restarts"`
}

func (h *hostProc) provider(t *testing.T) providerState {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+h.addr+"/api/v1/admin/providers", nil)
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Providers []providerState }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Providers) != 1 {
		t.Fatalf("admin/providers: %v %+v", err, out)
	}
	return out.Providers[0]
}

// awaitRunning waits until the provider runs in a process other than notPID.
func (h *hostProc) awaitRunning(t *testing.T, notPID int) providerState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p := h.provider(t)
		if p.State == "running" && p.PID != 0 && p.PID != notPID {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider not running again: %+v\n%s", p, h.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parentOf reads a process's parent PID and state from /proc; ok is false
// when the process is gone (or a zombie nobody reaped yet).
func parentOf(pid int) (ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command: state, ppid, ...
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, true
}

func awaitGone(t *testing.T, pid int, why string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, alive := parentOf(pid); !alive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin process %d still alive %s", pid, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeSendsThroughAPluginProcessAndSurvivesItsCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	h := startHost(t, writeConfig(t, dir))

	first := h.send(t, "Hello from My SaaS App!")
	if got := h.awaitFinal(t, []string{first}, 30*time.Second); got["delivered"] != 1 {
		t.Fatalf("first message ended %v, want delivered", got)
	}
	checkSealedWithGeneratedKey(t, h, dir, first, "Hello from My SaaS App!")

	p := h.provider(t)
	if ppid, ok := parentOf(p.PID); !ok || ppid != h.cmd.Process.Pid || p.PID == h.cmd.Process.Pid {
		t.Fatalf("sandbox plugin pid %d (parent %d) is not a child process of the host %d", p.PID, ppid, h.cmd.Process.Pid)
	}

	// Keep messages flowing while the plugin is killed.
	const total = 120
	ids := make([]string, 0, total)
	for i := range total {
		ids = append(ids, h.send(t, fmt.Sprintf("message %d", i)))
		if i == total/3 {
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	restarted := h.awaitRunning(t, p.PID)
	if restarted.Restarts < 1 {
		t.Errorf("restarts = %d after a crash, want ≥ 1", restarted.Restarts)
	}
	counts := h.awaitFinal(t, ids, 90*time.Second)
	t.Logf("after the plugin crash: %v", counts)
	if counts["delivered"] != total {
		t.Errorf("final statuses %v, want all %d delivered (the sandbox is configured to deliver everything)", counts, total)
	}

	// An orderly shutdown stops the plugin too.
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("host exited with %v after SIGTERM; log:\n%s", err, h.stderr)
	}
	awaitGone(t, restarted.PID, "after the host shut down")
}

func TestPluginDoesNotOutliveAKilledHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	h := startHost(t, writeConfig(t, t.TempDir()))
	p := h.provider(t)
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = h.cmd.Wait()
	awaitGone(t, p.PID, "after its host was SIGKILLed")
}

// checkSealedWithGeneratedKey: with no key configured, serve made a
// private key file next to the SQLite database, said so once without the
// key, and the message's text is stored sealed.
func checkSealedWithGeneratedKey(t *testing.T, h *hostProc, dir, id, text string) {
	t.Helper()
	path := filepath.Join(dir, "data", "smsrouter.key")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, mode %v; want one made with mode 0600", path, err, fi)
	}
	keys, err := seal.ReadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	log := h.stderr.String()
	if n := strings.Count(log, "generated one"); n != 1 || !strings.Contains(log, "key_id="+keys[0].ID()) {
		t.Errorf("the log says %d times that a key was generated, want once with its id:\n%s", n, log)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && strings.Contains(log, line) {
			t.Fatal("the log shows the secret key")
		}
	}
	db, err := gorm.Open(sqlite.Open(filepath.Join(dir, "data", "smsrouter.db")+"?mode=ro"), &gorm.Config{Logger: gormlogger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	var stored string
	if err := db.Raw("SELECT text FROM messages WHERE id = ?", id).Scan(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, text) || !seal.IsSealed(stored) {
		t.Errorf("the database holds %q for the message, want its text sealed", stored)
	}
}
