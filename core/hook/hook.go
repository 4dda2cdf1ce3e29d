package hook

import (
	"errors"
	"net/http"

	"github.com/smsrouter/smsrouter/core/message"
)

// Request is an HTTP request to a provider's hook URL.
type Request struct {
	Method string
	// URL is the full original URL as the caller used it (scheme, host,
	// path and query), which signature schemes need.
	URL string
	// Path is the part after ".../hooks", starting with "/".
	Path       string
	Header     http.Header
	Body       []byte
	RemoteAddr string
}

// Writer answers a hook request and takes the events it carried, which
// are stored before the answer starts.
type Writer interface {
	Header() http.Header
	WriteHeader(status int)
	Write(p []byte) (int, error)
	Flush() error
	// Emit keeps events to store before the answer starts; once it
	// started, it returns an error wrapping ErrResponseStarted.
	Emit(events ...message.Event) error
}

var (
	// ErrResponseStarted: events came after the answer started, when a
	// failure to store them could no longer reach the caller.
	ErrResponseStarted = errors.New("the hook's answer has started")
	// ErrUnsupported: the provider takes no hooks.
	ErrUnsupported = errors.New("the provider takes no HTTP hooks")
	// ErrUnavailable: the provider cannot handle hooks for now; the
	// caller should retry.
	ErrUnavailable = errors.New("the provider is unavailable for now")
)
