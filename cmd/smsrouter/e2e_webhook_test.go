package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/webhook"
)

// failFirst picks about one message in eight, by its id, whose events'
// first requests the receiver refuses.
func failFirst(messageID string) bool {
	return strings.ContainsAny(messageID[len(messageID)-1:], "01")
}

// eventLog is an application's webhook endpoint: it verifies signatures,
// answers 500 to the first request of the events of failFirst messages, and
// keeps the events it accepted per message, in order.
type eventLog struct {
	t      *testing.T
	secret string

	mu       sync.Mutex
	tries    map[string]int      // event id → requests
	byMsg    map[string][]string // message id → accepted event types
	accepted map[string]int      // event id → times accepted
	want     int
	done     chan struct{}
}

func (l *eventLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev, ok := readEvent(l.t, l.secret, w, r)
	if !ok {
		return
	}
	if ev.Data.To != "+959123456789" {
		l.t.Errorf("webhook %s: to %q, want +959123456789", ev.ID, ev.Data.To)
	}
	l.tries[ev.ID]++
	if failFirst(ev.Data.MessageID) && l.tries[ev.ID] == 1 {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	l.accepted[ev.ID]++
	l.byMsg[ev.Data.MessageID] = append(l.byMsg[ev.Data.MessageID], ev.Type)
	if l.want--; l.want == 0 {
		close(l.done)
	}
	w.WriteHeader(http.StatusOK)
}

// testEvent is what the tests read of a webhook's body.
type testEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		MessageID string `json:"message_id"`
		Status    string `json:"status"`
		To        string `json:"to"`
	} `json:"data"`
}

// readEvent reads a webhook request as an application does: the signature
// checked with secret (a bad one is answered 401 and fails the test), then
// the body decoded. ok is false when the request was answered already.
func readEvent(t *testing.T, secret string, w http.ResponseWriter, r *http.Request) (ev testEvent, ok bool) {
	ev, _, ok = readEventBody(t, secret, w, r)
	return ev, ok
}

// readEventBody is readEvent that also returns the body as it came.
func readEventBody(t *testing.T, secret string, w http.ResponseWriter, r *http.Request) (ev testEvent, body []byte, ok bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return ev, nil, false
	}
	if err := webhook.Verify(secret, r.Header.Get("X-Signature"), r.Header.Get("X-Timestamp"), body, 5*time.Minute, time.Now()); err != nil {
		t.Errorf("webhook %s: %v", r.Header.Get("X-Event-Id"), err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return ev, nil, false
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Errorf("webhook body %s: %v", body, err)
	}
	return ev, body, true
}

func TestServeSendsWebhooksExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const n = 40
	h := startHost(t, writeConfig(t, t.TempDir()))
	log := &eventLog{t: t, tries: map[string]int{}, byMsg: map[string][]string{},
		accepted: map[string]int{}, want: 2 * n, done: make(chan struct{})}
	recv := httptest.NewServer(log)
	defer recv.Close()

	code, body := h.call(t, "PUT", "/api/v1/webhook", fmt.Sprintf(`{"url":%q}`, recv.URL+"/sms-events"))
	secret, _ := body["secret"].(string)
	if code != http.StatusOK || secret == "" {
		t.Fatalf("PUT /webhook: HTTP %d %v", code, body)
	}
	log.mu.Lock()
	log.secret = secret
	log.mu.Unlock()

	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, h.send(t, fmt.Sprintf("webhook %d", i)))
	}
	select {
	case <-log.done:
	case <-time.After(90 * time.Second):
		log.mu.Lock()
		defer log.mu.Unlock()
		t.Fatalf("the receiver accepted %d of %d events; host log:\n%s", 2*n-log.want, 2*n, h.stderr)
	}

	// Every delivery is recorded delivered, so no retry is left to send
	// an event a second time.
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			code, body := h.call(t, "GET", "/api/v1/sms/"+id+"/webhooks", "")
			if code != http.StatusOK {
				t.Fatalf("GET webhooks of %s: HTTP %d %v", id, code, body)
			}
			hooks, _ := body["webhooks"].([]any)
			delivered := 0
			for _, h := range hooks {
				if h.(map[string]any)["state"] == "delivered" {
					delivered++
				}
			}
			if len(hooks) == 2 && delivered == 2 {
				if failFirst(id) {
					if a := hooks[0].(map[string]any)["attempts"].([]any); len(a) != 2 || a[0].(map[string]any)["http_status"] != float64(500) {
						t.Errorf("message %s: message.sent attempts %v, want a 500 then success", id, a)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s: webhooks %v, want two delivered", id, hooks)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	log.mu.Lock()
	defer log.mu.Unlock()
	for id, k := range log.accepted {
		if k != 1 {
			t.Errorf("event %s accepted %d times", id, k)
		}
	}
	for _, id := range ids {
		if got := log.byMsg[id]; !slices.Equal(got, []string{"message.sent", "message.delivered"}) {
			t.Errorf("message %s: events %q, want message.sent then message.delivered", id, got)
		}
	}
}
