package pluginhost_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// A plugin SIGKILLed after its provider took a message and before the host
// recorded the answer. A plugin that answers sdk.SentQuerier is asked once
// it runs again, and the message is recorded sent with the provider's id,
// not sent again. Without it the message is sent again: the provider takes
// it twice, the duplicate window docs/architecture.md names.
func TestKilledDuringSendAsksBeforeResending(t *testing.T) {
	requireProc(t)
	tests := []struct {
		name      string
		binary    string
		wantTaken int
	}{
		{name: "plugin answers QuerySent", binary: "testplugin-sentquery", wantTaken: 1},
		{name: "plugin cannot be asked", binary: "testplugin", wantTaken: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstream := t.TempDir()
			bin := filepath.Join(t.TempDir(), tt.binary)
			if err := os.Symlink(plugin(t, "testplugin"), bin); err != nil {
				t.Fatal(err)
			}
			settings, _ := json.Marshal(map[string]string{"upstream_dir": upstream})
			h := mustStart(t, pluginhost.Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond},
				pluginhost.Spec{Name: "a", Path: bin, Settings: settings})
			st := storetest.Open(t, store.DriverSQLite)
			d := dispatch.New(st, h, dispatch.Options{Logger: testLogger(t), MinRetry: 10 * time.Millisecond, MaxRetry: 10 * time.Millisecond,
				SendTimeout: 20 * time.Second, Lease: 45 * time.Second})
			id := queueOne(t, st)

			pid := statusOf(t, h, "a").PID
			round := make(chan error, 1)
			go func() { _, err := d.DispatchOnce(context.Background()); round <- err }()
			awaitTaken(t, upstream, 1)
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := <-round; err != nil {
				t.Fatalf("DispatchOnce: %v", err)
			}
			awaitStatus(t, h, "a", "running again", func(s pluginhost.ProviderStatus) bool {
				return s.State == pluginhost.StateRunning && s.PID != pid
			})
			m := awaitSent(t, st, d, id)
			if got := countTaken(t, upstream, id); got != tt.wantTaken {
				t.Errorf("the provider took the message %d times, want %d", got, tt.wantTaken)
			}
			if m.ProviderMessageID != "test-"+id || m.Provider != "a" {
				t.Errorf("recorded at %s as %q, want at a as %q", m.Provider, m.ProviderMessageID, "test-"+id)
			}
		})
	}
}

func queueOne(t *testing.T, st *store.Store) string {
	t.Helper()
	now := time.Now()
	m := &store.Message{ID: recordid.New("msg_"), AccountID: "acc_resend", Recipient: "+959123456789", Text: "hello",
		Encoding: "gsm7", Segments: 1, Kind: "sms", Status: message.Queued, Route: "test", Plan: `["a"]`,
		NextAttemptAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := storetest.InsertMessages(context.Background(), st, []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// awaitSent runs dispatch rounds until the message is sent.
func awaitSent(t *testing.T, st *store.Store, d *dispatch.Dispatcher, id string) store.Message {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond) // retries are due 10ms on
	defer tick.Stop()
	for {
		if _, err := d.DispatchOnce(context.Background()); err != nil {
			t.Fatalf("DispatchOnce: %v", err)
		}
		m, err := st.GetMessage(context.Background(), "acc_resend", id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == message.Sent {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("message still %s (%s: %s) after 30s", m.Status, m.ErrorCode, m.ErrorMessage)
		}
		<-tick.C
	}
}

// awaitTaken waits until the provider's side holds n takes.
func awaitTaken(t *testing.T, dir string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for countTaken(t, dir, "") < n {
		if time.Now().After(deadline) {
			t.Fatalf("the provider did not take %d messages within 30s", n)
		}
		<-tick.C
	}
}

// countTaken counts the provider's takes of id, or of all messages.
func countTaken(t *testing.T, dir, id string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "taken.log"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		if id == "" || strings.HasPrefix(line, id+" ") {
			n++
		}
	}
	return n
}
