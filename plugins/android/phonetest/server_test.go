package phonetest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"

	"github.com/smsrouter/smsrouter/plugins/android/phonetest"
)

// fakeServer is the smallest mobile API that checks every request against
// the app's wire shapes (reference §5.1/§5.1b): the simulator's tests
// assert through it that the phone speaks as the app does.
type fakeServer struct {
	t            *testing.T
	srv          *httptest.Server
	privateToken string
	signingKey   string // handed out in GET /settings when set

	mu        sync.Mutex
	devices   map[string]string // token → device id
	streams   map[string]chan string
	pending   map[string][]smsgateway.MobileMessage // device id → messages not yet taken
	patches   []smsgateway.MobilePatchMessageItem
	rawPatch  [][]byte
	hooks     []phonetest.WebhookEvent
	rawHooks  [][]byte
	calls     []string
	registers []phonetest.RegisterRequest
	updates   []phonetest.UpdateRequest
	changed   chan struct{}
	seq       int
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{
		t:            t,
		privateToken: "private-token-1",
		devices:      map[string]string{},
		streams:      map[string]chan string{},
		pending:      map[string][]smsgateway.MobileMessage{},
		changed:      make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mobile/v1/device", f.register)
	mux.HandleFunc("PATCH /mobile/v1/device", f.update)
	mux.HandleFunc("GET /mobile/v1/events", f.events)
	mux.HandleFunc("GET /mobile/v1/message", f.list)
	mux.HandleFunc("PATCH /mobile/v1/message", f.patch)
	mux.HandleFunc("GET /mobile/v1/webhooks", f.webhooks)
	mux.HandleFunc("GET /mobile/v1/settings", f.settings)
	mux.HandleFunc("POST /hook", f.hook)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		f.mu.Lock()
		for _, ch := range f.streams {
			close(ch)
		}
		f.streams = map[string]chan string{}
		f.mu.Unlock()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeServer) base() string { return f.srv.URL + "/mobile/v1" }

func (f *fakeServer) note(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.bumpLocked()
	f.mu.Unlock()
}

func (f *fakeServer) bumpLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// waitFor blocks until cond holds (checked under the lock) or 10 s pass.
func (f *fakeServer) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok := cond()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			f.t.Fatalf("fake server: gave up waiting for %s; calls: %v", what, f.callList())
		}
	}
}

func (f *fakeServer) callList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// strictDecode refuses bodies with fields the app does not send.
func strictDecode(r *http.Request, v any) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return raw, dec.Decode(v)
}

func fail(w http.ResponseWriter, status int, why string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"message":%q}`, why)
}

func (f *fakeServer) device(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.devices[tok]
	return id, ok
}

func (f *fakeServer) register(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.privateToken {
		fail(w, http.StatusUnauthorized, "private token required")
		return
	}
	var req phonetest.RegisterRequest
	raw, err := strictDecode(r, &req)
	if err != nil || req.Name == "" || len(req.SIMCards) == 0 {
		fail(w, http.StatusBadRequest, fmt.Sprintf("bad registration %s: %v", raw, err))
		return
	}
	if bytes.Contains(raw, []byte("pushToken")) {
		fail(w, http.StatusBadRequest, "an SSE-only app omits pushToken")
		return
	}
	f.mu.Lock()
	f.seq++
	id, tok := fmt.Sprintf("dev%d", f.seq), fmt.Sprintf("tok%d", f.seq)
	f.devices[tok] = id
	f.registers = append(f.registers, req)
	f.mu.Unlock()
	f.note("POST /device")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(smsgateway.MobileRegisterResponse{Id: id, Token: tok, Login: "LOGIN" + id, Password: "pw-" + id})
}

func (f *fakeServer) update(w http.ResponseWriter, r *http.Request) {
	id, ok := f.device(r)
	if !ok {
		fail(w, http.StatusUnauthorized, "unknown device token")
		return
	}
	var req phonetest.UpdateRequest
	if raw, err := strictDecode(r, &req); err != nil || req.ID != id {
		fail(w, http.StatusBadRequest, fmt.Sprintf("bad update %s: %v", raw, err))
		return
	}
	f.mu.Lock()
	f.updates = append(f.updates, req)
	f.mu.Unlock()
	f.note("PATCH /device")
	w.WriteHeader(http.StatusNoContent)
}

// events is the SSE stream: WebhooksUpdated on connect (the app fetches no
// webhooks on a first start otherwise), then whatever send() queues.
func (f *fakeServer) events(w http.ResponseWriter, r *http.Request) {
	id, ok := f.device(r)
	if !ok {
		fail(w, http.StatusUnauthorized, "unknown device token")
		return
	}
	ch := make(chan string, 64)
	f.mu.Lock()
	if old, ok := f.streams[id]; ok {
		close(old)
	}
	f.streams[id] = ch
	f.mu.Unlock()
	f.note("GET /events")
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fmt.Fprint(w, ":keepalive\n\nevent: WebhooksUpdated\ndata: {}\n\n")
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case s, open := <-ch:
			if !open {
				return
			}
			fmt.Fprint(w, s)
			fl.Flush()
		}
	}
}

// send writes raw SSE text to a device's stream.
func (f *fakeServer) send(device, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.streams[device]; ok {
		ch <- text
	}
}

// dropStream ends a device's stream from the server side.
func (f *fakeServer) dropStream(device string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.streams[device]; ok {
		close(ch)
		delete(f.streams, device)
	}
}

// enqueue queues a message for a device and notifies it.
func (f *fakeServer) enqueue(device string, m smsgateway.MobileMessage) {
	f.mu.Lock()
	f.pending[device] = append(f.pending[device], m)
	f.mu.Unlock()
	f.send(device, "event: MessageEnqueued\ndata: {}\n\n")
}

func (f *fakeServer) list(w http.ResponseWriter, r *http.Request) {
	id, ok := f.device(r)
	if !ok {
		fail(w, http.StatusUnauthorized, "unknown device token")
		return
	}
	if r.URL.Query().Get("order") != "lifo" {
		fail(w, http.StatusBadRequest, "the app asks for order=lifo")
		return
	}
	f.mu.Lock()
	list := append(smsgateway.MobileGetMessagesResponse{}, f.pending[id]...)
	f.mu.Unlock()
	f.note("GET /message")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func (f *fakeServer) patch(w http.ResponseWriter, r *http.Request) {
	id, ok := f.device(r)
	if !ok {
		fail(w, http.StatusUnauthorized, "unknown device token")
		return
	}
	var req smsgateway.MobilePatchMessageRequest
	raw, err := strictDecode(r, &req)
	if err != nil || len(req) == 0 {
		fail(w, http.StatusBadRequest, fmt.Sprintf("bad PATCH /message %s: %v", raw, err))
		return
	}
	for _, item := range req {
		st := smsgateway.MessageState{ID: item.ID, State: item.State, Recipients: item.Recipients, States: item.States}
		if err := st.Validate(); err != nil || item.ID == "" || len(item.Recipients) == 0 {
			fail(w, http.StatusBadRequest, fmt.Sprintf("bad item %+v: %v", item, err))
			return
		}
		for _, rc := range item.Recipients {
			if (rc.State == smsgateway.ProcessingStateFailed) != (rc.Error != nil) {
				fail(w, http.StatusBadRequest, "a failed recipient, and only a failed one, carries an error")
				return
			}
		}
	}
	f.mu.Lock()
	for _, item := range req {
		if item.State != smsgateway.ProcessingStatePending {
			kept := f.pending[id][:0]
			for _, m := range f.pending[id] {
				if m.ID != item.ID {
					kept = append(kept, m)
				}
			}
			f.pending[id] = kept
		}
	}
	f.patches = append(f.patches, req...)
	f.rawPatch = append(f.rawPatch, raw)
	f.mu.Unlock()
	f.note("PATCH /message")
	w.WriteHeader(http.StatusNoContent)
}

var hookEvents = []string{phonetest.EventSmsSent, phonetest.EventSmsDelivered, phonetest.EventSmsFailed, phonetest.EventSmsReceived, phonetest.EventSystemPing}

func (f *fakeServer) webhooks(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.device(r); !ok {
		fail(w, http.StatusUnauthorized, "unknown device token")
		return
	}
	var list []smsgateway.Webhook
	for i, e := range hookEvents {
		list = append(list, smsgateway.Webhook{ID: fmt.Sprintf("wh%d", i), URL: f.srv.URL + "/hook", Event: e})
	}
	f.note("GET /webhooks")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func (f *fakeServer) settings(w http.ResponseWriter, r *http.Request) {
	if _, ok := f.device(r); !ok {
		fail(w, http.StatusUnauthorized, "unknown device token")
		return
	}
	f.note("GET /settings")
	var s smsgateway.DeviceSettings
	f.mu.Lock()
	k := f.signingKey
	f.mu.Unlock()
	if k != "" {
		s.Webhooks = &smsgateway.SettingsWebhooks{SigningKey: &k}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
}

// hook checks a webhook's headers and keeps the event; the signature is
// checked by the test, which knows the phone's key.
func (f *fakeServer) hook(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var ev phonetest.WebhookEvent
	if err := json.Unmarshal(raw, &ev); err != nil || r.Header.Get("X-Timestamp") == "" || r.Header.Get("X-Signature") == "" {
		fail(w, http.StatusBadRequest, "bad webhook")
		return
	}
	f.mu.Lock()
	f.hooks = append(f.hooks, ev)
	f.rawHooks = append(f.rawHooks, append(raw, []byte("\x00"+r.Header.Get("X-Timestamp")+"\x00"+r.Header.Get("X-Signature"))...))
	f.mu.Unlock()
	f.note("POST /hook " + ev.Event)
	w.WriteHeader(http.StatusOK)
}

// hookSigned reports whether every webhook the server got is signed with key.
func (f *fakeServer) hooksSignedWith(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rec := range f.rawHooks {
		parts := bytes.Split(rec, []byte("\x00"))
		if phonetest.Sign(key, parts[0], string(parts[1])) != string(parts[2]) {
			return false
		}
	}
	return true
}

// count counts calls by prefix; callers hold f.mu.
func (f *fakeServer) count(prefix string) int {
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// lastPatch is the most advanced item the server got for a message: the
// one with the longest history. PATCHes may arrive out of order (a pull
// resends a snapshot while the phone works on), as with the real app.
func (f *fakeServer) lastPatch(id string) (smsgateway.MobilePatchMessageItem, bool) {
	var best smsgateway.MobilePatchMessageItem
	found := false
	for _, p := range f.patches {
		if p.ID == id && (!found || len(p.States) >= len(best.States)) {
			best, found = p, true
		}
	}
	return best, found
}
