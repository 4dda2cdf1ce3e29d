package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// remoteProvider is the host's Provider for a plugin process: every call
// becomes an RPC, and every answer is sorted into the provider's own result,
// "not supported", or "plugin unavailable".
type remoteProvider struct {
	rpc pluginpb.ProviderClient
	// caps is read at launch and again after Configure, because settings
	// may change what a provider reports (its batch size, say).
	capsMu sync.RWMutex
	caps   Capabilities
	name   string          // "plugin smpp (pid 4242)", for error messages
	done   <-chan struct{} // closed when the process exited
}

var (
	_ Provider        = (*remoteProvider)(nil)
	_ EventSource     = (*remoteProvider)(nil)
	_ HookHandler     = (*remoteProvider)(nil)
	_ HealthChecker   = (*remoteProvider)(nil)
	_ BalanceReporter = (*remoteProvider)(nil)
	_ SenderIDLister  = (*remoteProvider)(nil)
	_ StatusQuerier   = (*remoteProvider)(nil)
	_ SentQuerier     = (*remoteProvider)(nil)
	_ NumberLister    = (*remoteProvider)(nil)
	_ DeviceReporter  = (*remoteProvider)(nil)
	_ DeviceRevoker   = (*remoteProvider)(nil)
	_ NetworkReporter = (*remoteProvider)(nil)
	_ Tuner           = (*remoteProvider)(nil)
)

// remoteError is an error the provider returned inside the plugin. Only its
// text crosses the boundary; ErrUnsupported, ErrDeviceNotFound and
// ErrInvalidTune survive as flags.
type remoteError struct {
	msg         string
	unsupported bool
	notFound    bool
	invalidTune bool
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Is(target error) bool {
	switch target {
	case ErrUnsupported:
		return e.unsupported
	case ErrDeviceNotFound:
		return e.notFound
	case ErrInvalidTune:
		return e.invalidTune
	}
	return false
}

// classify turns an RPC error into what the caller can act on.
func (r *remoteProvider) classify(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %s: %w", r.name, op, ctxErr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %s: %w: %w", r.name, op, ErrUnavailable, err)
	}
	for _, d := range st.Details() {
		if pe, ok := d.(*pluginpb.ProviderError); ok {
			return fmt.Errorf("%s: %s: %w", r.name, op, &remoteError{msg: pe.GetMessage(), unsupported: pe.GetUnsupported(),
				notFound: pe.GetNotFound(), invalidTune: pe.GetInvalidTune()})
		}
	}
	if st.Code() == codes.Unimplemented {
		return fmt.Errorf("%s: %s: %w", r.name, op, ErrUnsupported)
	}
	// Everything else (Unavailable, a connection closed under a call,
	// Canceled that the caller did not ask for, a broken stream) means the
	// plugin process cannot answer.
	return fmt.Errorf("%s: %s: %w (%s: %s)", r.name, op, ErrUnavailable, st.Code(), st.Message())
}

// check refuses early when the process is gone or the capability is missing,
// which gives clearer errors than the RPC would.
func (r *remoteProvider) check(op string, supported bool) error {
	select {
	case <-r.done:
		return fmt.Errorf("%s: %s: %w: the process exited", r.name, op, ErrUnavailable)
	default:
	}
	if !supported {
		return fmt.Errorf("%s: %s: %w", r.name, op, ErrUnsupported)
	}
	return nil
}

func (r *remoteProvider) Info() Info { return r.Capabilities().Info }

// Capabilities reports what the plugin said it supports, as of its last
// successful Configure (or launch, before that).
func (r *remoteProvider) Capabilities() Capabilities {
	r.capsMu.RLock()
	defer r.capsMu.RUnlock()
	return r.caps
}

func (r *remoteProvider) Configure(ctx context.Context, cfg Config) error {
	if err := r.check("configure", true); err != nil {
		return err
	}
	_, err := r.rpc.Configure(ctx, &pluginpb.ConfigureRequest{
		Name:     cfg.Name,
		Settings: cfg.Settings,
		HookUrl:  cfg.HookURL,
	})
	if err != nil {
		return r.classify(ctx, "configure", err)
	}
	md, err := r.rpc.Metadata(ctx, &pluginpb.MetadataRequest{})
	if err != nil {
		return r.classify(ctx, "metadata after configure", err)
	}
	r.capsMu.Lock()
	r.caps = capabilitiesFrom(md)
	r.capsMu.Unlock()
	return nil
}

func (r *remoteProvider) Send(ctx context.Context, msgs []Message) ([]SendResult, error) {
	if err := r.check("send", true); err != nil {
		return nil, err
	}
	resp, err := r.rpc.Send(ctx, &pluginpb.SendRequest{Messages: messagesToPB(msgs)})
	if err != nil {
		err = r.classify(ctx, "send", err)
		if errors.Is(err, ErrUnavailable) {
			// The request may have reached the plugin, and the provider.
			err = fmt.Errorf("%w (%w: the provider may have taken the messages)", err, ErrOutcomeUnknown)
		}
		return nil, err
	}
	// The host checks the results against the messages (one per message,
	// in order) where it uses them.
	return resultsFromPB(resp.GetResults()), nil
}

func (r *remoteProvider) QuerySent(ctx context.Context, messageIDs []string) ([]SendResult, error) {
	if err := r.check("query sent", r.Capabilities().SentQuery); err != nil {
		return nil, err
	}
	resp, err := r.rpc.QuerySent(ctx, &pluginpb.QuerySentRequest{MessageIds: messageIDs})
	if err != nil {
		return nil, r.classify(ctx, "query sent", err)
	}
	return resultsFromPB(resp.GetResults()), nil
}

func (r *remoteProvider) Close(ctx context.Context) error {
	if err := r.check("close", true); err != nil {
		return err
	}
	if _, err := r.rpc.Close(ctx, &pluginpb.CloseRequest{}); err != nil {
		return r.classify(ctx, "close", err)
	}
	return nil
}

func (r *remoteProvider) Health(ctx context.Context) (Health, error) {
	if err := r.check("health", r.Capabilities().Health); err != nil {
		return Health{}, err
	}
	resp, err := r.rpc.Health(ctx, &pluginpb.HealthRequest{})
	if err != nil {
		return Health{}, r.classify(ctx, "health", err)
	}
	return Health{OK: resp.GetOk(), Detail: resp.GetDetail(), RefuseWhileDown: resp.GetRefuseWhileDown()}, nil
}

func (r *remoteProvider) Balance(ctx context.Context) (Balance, error) {
	if err := r.check("balance", r.Capabilities().Balance); err != nil {
		return Balance{}, err
	}
	resp, err := r.rpc.Balance(ctx, &pluginpb.BalanceRequest{})
	if err != nil {
		return Balance{}, r.classify(ctx, "balance", err)
	}
	return Balance{Amount: resp.GetAmount(), Currency: resp.GetCurrency()}, nil
}

func (r *remoteProvider) SenderIDs(ctx context.Context) ([]SenderID, error) {
	if err := r.check("sender ids", r.Capabilities().SenderIDs); err != nil {
		return nil, err
	}
	resp, err := r.rpc.SenderIDs(ctx, &pluginpb.SenderIDsRequest{})
	if err != nil {
		return nil, r.classify(ctx, "sender ids", err)
	}
	out := make([]SenderID, len(resp.GetSenderIds()))
	for i, s := range resp.GetSenderIds() {
		out[i] = SenderID{Value: s.GetValue(), Kind: s.GetKind()}
	}
	return out, nil
}

func (r *remoteProvider) Outbox(ctx context.Context, limit int) ([]OutboxMessage, error) {
	if err := r.check("outbox", r.Capabilities().Outbox); err != nil {
		return nil, err
	}
	resp, err := r.rpc.Outbox(ctx, &pluginpb.OutboxRequest{Limit: int32(min(max(limit, 0), math.MaxInt32))})
	if err != nil {
		return nil, r.classify(ctx, "outbox", err)
	}
	out := make([]OutboxMessage, len(resp.GetMessages()))
	for i, m := range resp.GetMessages() {
		out[i] = OutboxMessage{MessageID: m.GetMessageId(), ProviderMessageID: m.GetProviderMessageId(), To: m.GetTo(), From: m.GetFrom(),
			Text: m.GetText(), Kind: m.GetKind(), Segments: int(m.GetSegments()), SentAt: timeFromPB(m.GetSentAt())}
	}
	return out, nil
}

func (r *remoteProvider) QueryStatus(ctx context.Context, providerMessageIDs []string) ([]StatusEvent, error) {
	if err := r.check("query status", r.Capabilities().StatusQuery); err != nil {
		return nil, err
	}
	resp, err := r.rpc.QueryStatus(ctx, &pluginpb.QueryStatusRequest{ProviderMessageIds: providerMessageIDs})
	if err != nil {
		return nil, r.classify(ctx, "query status", err)
	}
	out := make([]StatusEvent, 0, len(resp.GetStatuses()))
	for _, s := range resp.GetStatuses() {
		se := statusEventFromPB(s)
		if !se.Status.Valid() {
			return nil, fmt.Errorf("%s: query status: plugin reported status %q for %q, which is not one of the normalised statuses", r.name, se.Status, se.ProviderMessageID)
		}
		out = append(out, se)
	}
	return out, nil
}

// eventsInFlight bounds the events of one stream handed to emit and not
// yet acknowledged. Storing events one at a time would make every event
// wait for its own commit; with many in flight the host can store them
// together (see core/store's EventBatcher).
const eventsInFlight = 512

// Events opens the plugin's event stream and hands each event to emit,
// acknowledging it only after emit succeeded. emit is called from several
// goroutines at once, except for events about the same provider message id,
// which are handed over one after the other in the order the plugin emitted
// them. When emit fails, Events returns that error without acknowledging:
// the plugin sends the event again on the next stream, so call Events again
// (after a backoff) to resume. Events returns nil when ctx is cancelled, and
// an error wrapping ErrUnavailable when the plugin goes away.
func (r *remoteProvider) Events(ctx context.Context, emit EmitFunc) error {
	if err := r.check("events", r.Capabilities().Events); err != nil {
		return err
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream; unacknowledged events stay with the plugin
	stream, err := r.rpc.Events(streamCtx)
	if err != nil {
		return r.eventsEnd(ctx, err)
	}
	p := &eventPump{r: r, ctx: ctx, streamCtx: streamCtx, cancel: cancel, stream: stream, emit: emit,
		after: map[string]chan struct{}{}, slots: make(chan struct{}, eventsInFlight), failed: make(chan struct{})}
	for {
		select {
		case p.slots <- struct{}{}:
		case <-p.failed:
			return p.finish(nil)
		}
		d, ev, err := p.next()
		if d == nil {
			return p.finish(err)
		}
		id := d.GetDeliveryId()
		prev, done := p.order(ev)
		p.wg.Go(func() { p.handle(id, ev, prev, done) })
	}
}

// eventPump is one event stream of Events: it receives events, hands each
// to emit on a goroutine of its own (at most eventsInFlight at once), in
// order per provider message id, and acknowledges each once emitted.
type eventPump struct {
	r         *remoteProvider
	ctx       context.Context // the caller's
	streamCtx context.Context // ended by cancel, which ends the stream
	cancel    context.CancelFunc
	stream    pluginpb.Provider_EventsClient
	emit      EmitFunc
	wg        sync.WaitGroup

	mu      sync.Mutex // guards sendErr, emitErr, stream.Send and after
	sendErr error
	emitErr error
	// after holds, per provider message id with an event in flight, the
	// channel closed when the newest of them is done.
	after map[string]chan struct{}

	slots    chan struct{} // a slot per event handed over and not yet done
	failed   chan struct{} // closed when the pump stops taking events
	failOnce sync.Once
}

// next receives the next event. When there is none (d is nil), err is why
// the stream ended, or nil when the pump stopped itself and finish knows
// the cause.
func (p *eventPump) next() (*pluginpb.EventDelivery, Event, error) {
	d, err := p.stream.Recv()
	if err != nil {
		select {
		case <-p.failed:
			// Our own cancel ended Recv; finish reports the cause.
			return nil, Event{}, nil
		default:
		}
		return nil, Event{}, p.r.eventsEnd(p.ctx, err)
	}
	ev, err := eventFromPB(d.GetEvent())
	if err != nil {
		return nil, Event{}, fmt.Errorf("%s: events: plugin sent an invalid event: %w", p.r.name, err)
	}
	return d, ev, nil
}

// order returns the channel closed when the previous event of ev's
// provider message id is done (nil when none is in flight), and the one
// to close when ev is.
func (p *eventPump) order(ev Event) (prev, done chan struct{}) {
	done = make(chan struct{})
	if key := orderKey(ev); key != "" {
		p.mu.Lock()
		prev = p.after[key]
		p.after[key] = done
		p.mu.Unlock()
	}
	return prev, done
}

// orderKey is what events handed over in order share: the provider's
// message id of a status event, none for others.
func orderKey(ev Event) string {
	if ev.Status != nil {
		return ev.Status.ProviderMessageID
	}
	return ""
}

// handle waits for the event before it, emits ev and acknowledges it.
func (p *eventPump) handle(deliveryID uint64, ev Event, prev, done chan struct{}) {
	defer func() { <-p.slots }()
	defer p.release(orderKey(ev), done)
	if prev != nil {
		select {
		case <-prev:
		case <-p.streamCtx.Done():
			return
		}
	}
	if err := p.emit(p.streamCtx, ev); err != nil {
		p.mu.Lock()
		if p.emitErr == nil && p.ctx.Err() == nil && p.streamCtx.Err() == nil {
			p.emitErr = fmt.Errorf("%s: events: storing event %q failed; it stays unacknowledged and the plugin sends it again on the next stream: %w", p.r.name, ev.ID, err)
		}
		p.mu.Unlock()
		p.fail()
		return
	}
	p.ack(deliveryID)
}

// release marks an event done, for the next of its key.
func (p *eventPump) release(key string, done chan struct{}) {
	close(done)
	if key == "" {
		return
	}
	p.mu.Lock()
	if p.after[key] == done {
		delete(p.after, key)
	}
	p.mu.Unlock()
}

// ack acknowledges an emitted event; a stream that cannot take it stops
// the pump.
func (p *eventPump) ack(deliveryID uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sendErr != nil {
		return
	}
	if err := p.stream.Send(&pluginpb.EventAck{DeliveryId: deliveryID}); err != nil {
		if errors.Is(err, io.EOF) {
			// The stream ended; the receive loop learns why.
			err = io.EOF
		}
		p.sendErr = err
		p.fail()
	}
}

// fail stops taking events: cancelling the stream also ends a Recv that
// waits for the next one.
func (p *eventPump) fail() {
	p.failOnce.Do(func() {
		close(p.failed)
		p.cancel()
	})
}

// finish ends the stream, waits for the events in flight and says why
// Events returns: a failed emit first, then err, then a failed ack.
func (p *eventPump) finish(err error) error {
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.emitErr != nil:
		return p.emitErr
	case err != nil:
		return err
	case p.sendErr != nil:
		return p.r.eventsEnd(p.ctx, p.sendErr)
	}
	return nil
}

func (r *remoteProvider) eventsEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: events: %w: the plugin ended the event stream", r.name, ErrUnavailable)
	}
	return r.classify(ctx, "events", err)
}

// HandleHook forwards req to the plugin and replays its answer on w as it
// arrives: events, then the head, then each body chunk, flushing where the
// plugin flushed. Cancelling ctx (the caller went away) ends the plugin's
// handler too.
func (r *remoteProvider) HandleHook(ctx context.Context, req *HookRequest, w HookResponseWriter) error {
	if err := r.check("hook", r.Capabilities().Hooks); err != nil {
		return err
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.rpc.Hook(streamCtx, hookRequestToPB(req))
	if err != nil {
		return r.classify(ctx, "hook", err)
	}
	headSeen := false
	for {
		f, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if !headSeen {
				return fmt.Errorf("%s: hook: plugin ended its answer without a status", r.name)
			}
			return nil
		}
		if err != nil {
			return r.classify(ctx, "hook", err)
		}
		if len(f.GetEvents()) > 0 {
			evs, err := eventsFromPB(f.GetEvents())
			if err != nil {
				return fmt.Errorf("%s: hook: plugin emitted an invalid event: %w", r.name, err)
			}
			if err := w.Emit(evs...); err != nil {
				return fmt.Errorf("%s: hook: %w", r.name, err)
			}
		}
		if head := f.GetHead(); head != nil {
			if headSeen {
				return fmt.Errorf("%s: hook: plugin sent the response head twice", r.name)
			}
			code := int(head.GetStatus())
			if code < 100 || code > 999 {
				return fmt.Errorf("%s: hook: plugin answered with invalid status code %d", r.name, code)
			}
			copyHeader(w.Header(), headerFromPB(head.GetHeader()))
			w.WriteHeader(code)
			headSeen = true
		}
		if (len(f.GetChunk()) > 0 || f.GetFlush()) && !headSeen {
			return fmt.Errorf("%s: hook: plugin sent body before the response head", r.name)
		}
		if chunk := f.GetChunk(); len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return fmt.Errorf("%s: hook: writing the response to the caller: %w", r.name, err)
			}
		}
		if f.GetFlush() {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("%s: hook: flushing the response to the caller: %w", r.name, err)
			}
		}
	}
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = append([]string(nil), v...)
	}
}
