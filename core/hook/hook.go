package hook

import (
	"errors"

	"github.com/smsrouter/smsrouter/core/message"
)

// StatusOK is the answer's status when a plugin wrote nothing, as HTTP
// answers a handler that wrote nothing.
const StatusOK = 200

// Header holds a hook request's or answer's header fields by canonical
// name, with the same layout as the protocol's, so that translating one is
// a conversion, not a copy.
type Header map[string][]string

// Request is a request to a provider's hook URL.
type Request struct {
	Method string
	// URL is the full original URL as the caller used it (scheme, host,
	// path and query), which signature schemes need.
	URL string
	// Path is the part after ".../hooks", starting with "/".
	Path       string
	Header     Header
	Body       []byte
	RemoteAddr string
}

// Writer answers a hook request and takes the events it carried, which
// are stored before the answer starts. core gives one to the plugin host.
type Writer interface {
	Header() Header
	WriteHeader(status int)
	Write(p []byte) (int, error)
	Flush() error
	// Emit keeps events to store before the answer starts; once it
	// started, it returns an error wrapping ErrResponseStarted.
	Emit(events ...message.Event) error
}

// Answer is where the answer to a hook request goes: the server adapts its
// response to it, and core starts it only once the events that came before
// are stored. An answer is started once, then written and flushed in
// order; a provider streaming events to a phone flushes as it goes.
type Answer interface {
	// Start sends the status the plugin chose and its header fields.
	Start(status int, header Header)
	Write(p []byte) (int, error)
	// Flush sends what was written so far.
	Flush()
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
