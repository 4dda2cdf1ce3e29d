package modemtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
)

// TestGammuAgainstSimulator checks the simulator's dialect with a client
// nobody here wrote: Debian's gammu identifies the modem, sends through it
// and reads what arrived.
func TestGammuAgainstSimulator(t *testing.T) {
	bin, err := exec.LookPath("gammu")
	if err != nil {
		t.Skip("gammu is not installed (Debian: apt-get install gammu); the simulator's fidelity test needs it")
	}
	m := modemtest.New(t, modemtest.Options{IMEI: "490154203237518", IMSI: "242019999999999"})
	dir := t.TempDir()
	rc := filepath.Join(dir, "gammurc")
	log := filepath.Join(dir, "gammu.log")
	conf := fmt.Sprintf("[gammu]\ndevice = %s\nconnection = at\nlogformat = textall\nlogfile = %s\n", m.Path(), log)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	gammu := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"-c", rc}, args...)...).CombinedOutput()
		if err != nil {
			trace, _ := os.ReadFile(log)
			t.Fatalf("gammu %s: %v\n%s\ngammu's trace:\n%s", strings.Join(args, " "), err, out, trace)
		}
		return string(out)
	}

	t.Run("identify", func(t *testing.T) {
		out := gammu("identify")
		for _, want := range []string{"smsrouter", "modemtest", "490154203237518", "242019999999999"} {
			if !strings.Contains(out, want) {
				t.Errorf("gammu identify does not show %q:\n%s", want, out)
			}
		}
	})

	t.Run("sendsms", func(t *testing.T) {
		tests := []struct {
			name, text string
			args       []string
			report     bool
		}{
			{"gsm7", "hello from gammu", nil, false},
			{"ucs2 with report", "Привет from gammu", []string{"-unicode", "-report"}, true},
		}
		for _, tc := range tests {
			out := gammu(append([]string{"sendsms", "TEXT", "+4799887766", "-text", tc.text}, tc.args...)...)
			s := receive(t, m.Sent())
			if s.To != "+4799887766" || s.Text != tc.text || s.StatusReport != tc.report {
				t.Errorf("%s: the modem got %+v\ngammu said: %s", tc.name, s, out)
			}
			if !strings.Contains(out, fmt.Sprintf("message reference=%d", s.MR)) {
				t.Errorf("%s: gammu did not see reference %d:\n%s", tc.name, s.MR, out)
			}
		}
	})

	t.Run("getallsms", func(t *testing.T) {
		long := strings.Repeat("a long inbound message ", 10)
		for _, in := range []modemtest.Inbound{
			{From: "+4711223344", Text: "hello gammu"},
			{From: "+4755667788", Text: long, Reverse: true},
		} {
			if _, err := m.InjectInbound(in); err != nil {
				t.Fatal(err)
			}
		}
		// The status report gammu asked for above was stored (gammu sets no
		// +CNMI), so it is listed too.
		out := gammu("getallsms")
		for _, want := range []string{
			"+4711223344", "hello gammu",
			"+4755667788", "a long inbound message", "part 1 of 2", "part 2 of 2",
			"SMS status report", "Delivery status      : Delivered",
			"4 SMS parts in 4 SMS sequences",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("gammu getallsms does not show %q:\n%s", want, out)
			}
		}
	})
}
