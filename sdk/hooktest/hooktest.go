package hooktest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// Recorder is an sdk.HookResponseWriter that keeps what the handler did.
// Like the host's writer it refuses an Emit after the response started and
// an invalid event or status code; the first such breach is kept in Err.
type Recorder struct {
	// Code is the status written, 0 while the response has not started.
	Code int
	// HeaderMap is the header as it was when the response started.
	HeaderMap http.Header
	// Body is everything written.
	Body bytes.Buffer
	// Events are the events emitted, in order (refused ones left out).
	Events []sdk.Event
	// Flushes counts Flush calls.
	Flushes int
	// Err is the first breach of the HookResponseWriter contract, nil when
	// the handler kept to it.
	Err error

	header http.Header
}

var _ sdk.HookResponseWriter = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{header: http.Header{}} }

// Header returns the header the handler sets before the response starts.
func (r *Recorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

// WriteHeader starts the response with status; later calls are ignored.
func (r *Recorder) WriteHeader(status int) {
	if r.Code != 0 {
		return
	}
	if status < 100 || status > 999 {
		r.breach(fmt.Errorf("WriteHeader with invalid status code %d", status))
		status = http.StatusInternalServerError
	}
	r.Code, r.HeaderMap = status, r.Header().Clone()
}

// Write appends to Body, starting the response with 200 if need be.
func (r *Recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.Body.Write(p)
}

// Flush counts the flush, starting the response with 200 if need be.
func (r *Recorder) Flush() error {
	r.WriteHeader(http.StatusOK)
	r.Flushes++
	return nil
}

// Emit keeps events emitted before the response started and refuses the
// others, as the host does.
func (r *Recorder) Emit(events ...sdk.Event) error {
	if r.Code != 0 {
		return r.breach(fmt.Errorf("emitted %d event(s): %w", len(events), sdk.ErrResponseStarted))
	}
	for _, ev := range events {
		if err := ev.Validate(); err != nil {
			return r.breach(fmt.Errorf("emitted an invalid event: %w", err))
		}
	}
	r.Events = append(r.Events, events...)
	return nil
}

func (r *Recorder) breach(err error) error {
	if r.Err == nil {
		r.Err = err
	}
	return err
}

// Started reports whether the response started (a status was written).
func (r *Recorder) Started() bool { return r.Code != 0 }

// NewRequest returns the HookRequest the host would forward for a request
// to target, a full URL under a provider's hook URL
// ("https://gw.example.com/api/v1/providers/p1/hooks/status?x=1"): Path is
// the part after "/hooks" ("/status"). The header is empty; set what the
// upstream would send (Content-Type, a signature).
func NewRequest(method, target string, body []byte) *sdk.HookRequest {
	u, err := url.Parse(target)
	if err != nil {
		panic(fmt.Sprintf("hooktest: target %q is not a URL: %v", target, err))
	}
	path := u.Path
	if _, after, ok := strings.Cut(path, "/hooks"); ok {
		path = after
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return &sdk.HookRequest{Method: method, URL: target, Path: path, Header: http.Header{}, Body: body, RemoteAddr: "192.0.2.1:40000"}
}
