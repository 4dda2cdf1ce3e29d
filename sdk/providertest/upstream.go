package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Upstream lets the kit play the HTTP API a provider calls. The kit decides
// what each request is answered (Reply); Answer says how that answer looks
// in the API's own words. For a JSON API it is a few lines:
//
//	Answer: func(w http.ResponseWriter, r *http.Request, reply providertest.Reply) {
//		w.WriteHeader(reply.Status)
//		if reply.Status == http.StatusOK {
//			fmt.Fprintf(w, `{"id":%q,"balance":"12.50","currency":"EUR"}`, reply.ID)
//			return
//		}
//		fmt.Fprintf(w, `{"error":%q}`, reply.Reason)
//	},
type Upstream struct {
	// Settings returns settings under which the provider calls the upstream
	// at url, the fake's base URL ("http://127.0.0.1:port", no trailing
	// slash). It replaces Target.Settings.
	Settings func(url string) json.RawMessage
	// Answer writes reply to r in the upstream's API. The kit has set the
	// Retry-After header already when reply has one. Every request the
	// provider makes reaches Answer (sends, balance, health), except those
	// the kit holds until they are cancelled.
	Answer func(w http.ResponseWriter, r *http.Request, reply Reply)
	// Report, when the upstream reports deliveries by calling the provider's
	// hook URL, returns the callback saying the message it accepted as
	// providerMessageID was delivered: addressed under hookURL and signed as
	// the upstream signs. The kit posts it to its hook server, so the
	// provider's delivery reports are checked (Target.ExpectReports).
	Report func(hookURL, providerMessageID string) (*http.Request, error)
}

// Reply is what the kit's fake upstream answers one request.
type Reply struct {
	// Status is the HTTP status to answer with: 200 (taken), 400 (refused
	// for good), 401 (credentials refused), 429 (throttled), or 503
	// (unavailable).
	Status int
	// ID is the upstream's id for the message a 200 answer takes; the
	// provider must return it as SendResult.ProviderMessageID. An API that
	// takes several messages in one request may derive the others from it.
	ID string
	// Reason explains an answer other than 200, as the API's error text.
	Reason string
	// RetryAfter is the wait a 429 answer asks for; the kit has set the
	// Retry-After header to it.
	RetryAfter time.Duration
	// Known reports whether the fake gave id in an earlier 200 answer. An
	// API that is asked about messages (a status query) answers the ids it
	// does not know as it does for those.
	Known func(id string) bool
}

// script is how the fake answers every request until told otherwise.
type script struct {
	status     int
	retryAfter string        // Retry-After header value, or ""
	retryAt    time.Duration // or: Retry-After as the HTTP date this long after the answer
	hang       bool          // hold each request until it is cancelled
}

var scriptAccept = script{status: http.StatusOK}

// fakeUpstream is the kit's scriptable HTTP upstream.
type fakeUpstream struct {
	srv    *httptest.Server
	answer func(http.ResponseWriter, *http.Request, Reply)

	mu      sync.Mutex
	script  script
	n       int
	ids     []string      // ids handed out in 200 answers
	held    chan struct{} // a request is being held (hang)
	dropped chan struct{} // a held request was cancelled by its caller
	release chan struct{} // closed by close: let held requests go
	once    sync.Once
}

func newFakeUpstream(answer func(http.ResponseWriter, *http.Request, Reply)) *fakeUpstream {
	f := &fakeUpstream{answer: answer, script: scriptAccept,
		held: make(chan struct{}, 64), dropped: make(chan struct{}, 64), release: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the fake's base URL.
func (f *fakeUpstream) URL() string { return f.srv.URL }

// set changes how the following requests are answered.
func (f *fakeUpstream) set(s script) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = s
}

// handedOut reports whether id was given in a 200 answer, or derived from
// one (an id for a further message of the same request, "up-000001-2").
func (f *fakeUpstream) handedOut(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, got := range f.ids {
		if got == id || strings.HasPrefix(id, got+"-") {
			return true
		}
	}
	return false
}

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	s := f.script
	f.n++
	reply := Reply{Status: s.status, Reason: fmt.Sprintf("providertest: scripted HTTP %d", s.status), Known: f.handedOut}
	if s.status == http.StatusOK {
		reply.ID = fmt.Sprintf("up-%06d", f.n)
		f.ids = append(f.ids, reply.ID)
	}
	f.mu.Unlock()
	if s.hang {
		f.hold(r)
		return
	}
	if s.retryAt > 0 {
		s.retryAfter = time.Now().Add(s.retryAt).UTC().Format(http.TimeFormat)
	}
	if s.retryAfter != "" {
		w.Header().Set("Retry-After", s.retryAfter)
		if secs, err := strconv.Atoi(s.retryAfter); err == nil {
			reply.RetryAfter = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(s.retryAfter); err == nil {
			reply.RetryAfter = time.Until(at)
		}
	}
	f.answer(w, r, reply)
}

// hold keeps a request open until its caller gives up or the fake closes.
func (f *fakeUpstream) hold(r *http.Request) {
	// The server notices a caller hanging up only once the body is read.
	_, _ = io.Copy(io.Discard, r.Body)
	signal(f.held)
	select {
	case <-r.Context().Done():
		signal(f.dropped)
	case <-f.release:
	}
}

// signal notes an occurrence on c without ever blocking.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (f *fakeUpstream) close() {
	f.once.Do(func() {
		close(f.release)
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}
