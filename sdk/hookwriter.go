package sdk

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// hookChunkSize is how much body a handler may write without flushing before
// the writer sends it anyway, so a large response never sits whole in memory.
const hookChunkSize = 64 << 10

// hookWriter is the HookResponseWriter a plugin's handler writes to; it turns
// the calls into HookFrames on the stream.
type hookWriter struct {
	stream pluginpb.Provider_HookServer
	header http.Header

	mu       sync.Mutex
	head     *pluginpb.HookHead // set by WriteHeader, sent with the first frame after it
	headSent bool
	events   []*pluginpb.Event // emitted, not yet sent
	body     []byte            // written, not yet sent
	sendErr  error             // the stream broke; nothing more can be sent
	misuse   error             // the handler broke the writer's contract
}

var _ HookResponseWriter = (*hookWriter)(nil)

func newHookWriter(stream pluginpb.Provider_HookServer) *hookWriter {
	return &hookWriter{stream: stream, header: make(http.Header)}
}

func (w *hookWriter) Header() http.Header { return w.header }

func (w *hookWriter) WriteHeader(status int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(status)
}

func (w *hookWriter) writeHeaderLocked(status int) {
	if w.head != nil {
		return
	}
	if status < 100 || status > 999 {
		// net/http would panic on this at the host; fail the hook instead.
		_ = w.misused(fmt.Errorf("hook handler called WriteHeader with invalid status code %d", status))
		status = http.StatusInternalServerError
	}
	w.head = &pluginpb.HookHead{Status: int32(status), Header: headerToPB(w.header.Clone())}
}

func (w *hookWriter) errLocked() error {
	if w.sendErr != nil {
		return w.sendErr
	}
	return w.misuse
}

func (w *hookWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.errLocked(); err != nil {
		return 0, err
	}
	w.writeHeaderLocked(http.StatusOK)
	w.body = append(w.body, p...)
	if len(w.body) >= hookChunkSize {
		if err := w.sendLocked(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (w *hookWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.errLocked(); err != nil {
		return err
	}
	w.writeHeaderLocked(http.StatusOK)
	return w.sendLocked(true)
}

func (w *hookWriter) Emit(events ...Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.head != nil {
		return w.misused(fmt.Errorf("hook handler emitted %d event(s): %w", len(events), ErrResponseStarted))
	}
	for _, ev := range events {
		if err := validateEvent(ev); err != nil {
			return w.misused(fmt.Errorf("hook handler emitted an invalid event: %w", err))
		}
	}
	for _, ev := range events {
		w.events = append(w.events, eventToPB(ev))
	}
	// The events travel with the head, which the host stores them before.
	return nil
}

// misused records the first breach of the writer's contract, which fails
// the hook even when the handler ignores the error, and returns err.
func (w *hookWriter) misused(err error) error {
	if w.misuse == nil {
		w.misuse = err
	}
	return err
}

// sendLocked sends everything pending: events, the head if not yet sent,
// buffered body. The head must have been set.
func (w *hookWriter) sendLocked(flush bool) error {
	frame := &pluginpb.HookFrame{Events: w.events, Chunk: w.body, Flush: flush}
	if !w.headSent {
		frame.Head = w.head
	}
	w.events, w.body, w.headSent = nil, nil, true
	if err := w.stream.Send(frame); err != nil {
		w.sendErr = err
		return err
	}
	return nil
}

func (w *hookWriter) sendEventsLocked() error {
	if len(w.events) == 0 {
		return nil
	}
	frame := &pluginpb.HookFrame{Events: w.events}
	w.events = nil
	if err := w.stream.Send(frame); err != nil {
		w.sendErr = err
		return err
	}
	return nil
}

// finish sends what the handler left and ends the response. A handler that
// wrote nothing answers 200 with an empty body, as with net/http.
func (w *hookWriter) finish() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sendErr != nil {
		return w.sendErr
	}
	if w.misuse != nil {
		_ = w.sendEventsLocked()
		return providerStatus(w.misuse)
	}
	w.writeHeaderLocked(http.StatusOK)
	if !w.headSent || len(w.body) > 0 || len(w.events) > 0 {
		return w.sendLocked(false)
	}
	return nil
}
