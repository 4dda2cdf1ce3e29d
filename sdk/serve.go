package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// maxMessageSize bounds one gRPC message in either direction. Hook bodies and
// big batches can exceed gRPC's 4 MiB default; anything near this limit is a
// bug, not traffic.
const maxMessageSize = 64 << 20

// closeTimeout bounds the provider's Close when the host went away without
// asking for it, so a stuck provider cannot keep a dead plugin process alive.
const closeTimeout = 10 * time.Second

// Serve runs p as a plugin process and returns when the host stops it; call
// it from main and return afterwards. Serve speaks only gRPC, writes nothing
// to stdout but the handshake, and gives p (through Config.Logger) a logger
// whose lines go to stderr as JSON, where the host picks them up into its own
// log. It calls p.Close once before returning, unless the host already did.
//
// Run by hand, a plugin binary says so on stderr and exits with status 1.
func Serve(p Provider) {
	// go-plugin replaces os.Stderr with a pipe of its own once serving starts;
	// the host reads log lines from the real stderr, so keep that one.
	logger := hclog.New(&hclog.LoggerOptions{
		Output:     os.Stderr,
		JSONFormat: true,
		Level:      hclog.Debug,
	})
	srv := newServer(p, logger)

	// SIGTERM (a service manager, or the parent-death signal the host may
	// set) still lets the provider say goodbye upstream, e.g. an SMPP unbind.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	served := make(chan struct{})
	var sigWG sync.WaitGroup
	sigWG.Add(1)
	go func() {
		defer sigWG.Done()
		select {
		case <-sigs:
			logger.Info("received SIGTERM, closing provider")
			srv.closeWithTimeout()
			os.Exit(0)
		case <-served:
		}
	}()

	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         plugin.PluginSet{pluginSetName: &grpcPlugin{server: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))
			return grpc.NewServer(opts...)
		},
		Logger: logger,
	})

	signal.Stop(sigs)
	close(served)
	sigWG.Wait()
	srv.closeWithTimeout()
}

// grpcPlugin adapts between go-plugin's dispensing and the Provider service.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *server // nil on the host side
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterProviderServer(s, g.server)
	return nil
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return pluginpb.NewProviderClient(conn), nil
}

// server is the plugin side of the wire protocol: it turns RPCs into calls on
// the Provider and its optional interfaces.
type server struct {
	pluginpb.UnimplementedProviderServer

	p      Provider
	logger hclog.Logger

	// ctx ends when the plugin shuts down; the event source runs under it.
	ctx    context.Context
	cancel context.CancelFunc

	sourceOnce    sync.Once
	sourceStarted chan struct{} // closed when the event source goroutine starts
	sourceDone    chan struct{} // closed when the provider's Events returns
	outbox        *outbox

	closeOnce sync.Once
	closeErr  error
}

func newServer(p Provider, logger hclog.Logger) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{
		p:             p,
		logger:        logger,
		ctx:           ctx,
		cancel:        cancel,
		sourceStarted: make(chan struct{}),
		sourceDone:    make(chan struct{}),
		outbox:        newOutbox(ctx.Done()),
	}
}

// shutdown stops the event source and closes the provider, once; later calls
// return the first result.
func (s *server) shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.cancel()
		select {
		case <-s.sourceStarted:
			select {
			case <-s.sourceDone:
			case <-ctx.Done():
				s.logger.Warn("provider's Events did not return after cancellation; closing the provider anyway")
			}
		default:
		}
		s.closeErr = s.p.Close(ctx)
		if s.closeErr != nil {
			s.logger.Error("closing provider failed", "error", s.closeErr)
		}
	})
	return s.closeErr
}

func (s *server) closeWithTimeout() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = s.shutdown(ctx)
}

// providerStatus marks err as the provider's own answer, so the host does not
// mistake it for the plugin being unreachable.
func providerStatus(err error) error {
	st := status.New(codes.Unknown, err.Error())
	detailed, derr := st.WithDetails(&pluginpb.ProviderError{
		Message:     err.Error(),
		Unsupported: errors.Is(err, ErrUnsupported),
		NotFound:    errors.Is(err, ErrDeviceNotFound),
		InvalidTune: errors.Is(err, ErrInvalidTune),
	})
	if derr == nil {
		st = detailed
	}
	return st.Err()
}

func unimplemented(iface string) error {
	return status.Errorf(codes.Unimplemented, "provider does not implement %s", iface)
}

func (s *server) Metadata(context.Context, *pluginpb.MetadataRequest) (*pluginpb.MetadataResponse, error) {
	caps := CapabilitiesOf(s.p)
	return &pluginpb.MetadataResponse{
		Name:         caps.Name,
		Version:      caps.Version,
		MaxBatchSize: int32(caps.MaxBatchSize),
		Events:       caps.Events,
		Hooks:        caps.Hooks,
		Health:       caps.Health,
		Balance:      caps.Balance,
		SenderIds:    caps.SenderIDs,
		StatusQuery:  caps.StatusQuery,
		Outbox:       caps.Outbox,
		SentQuery:    caps.SentQuery,
		Numbers:      caps.Numbers,
		Devices:      caps.Devices,
		RevokeDevice: caps.Revoke,
		Networks:     caps.Networks,
		Tune:         caps.Tune,

		SettingsValidation: caps.SettingsValidation,
	}, nil
}

func (s *server) Configure(ctx context.Context, req *pluginpb.ConfigureRequest) (*pluginpb.ConfigureResponse, error) {
	cfg := Config{
		Name:     req.GetName(),
		Settings: json.RawMessage(req.GetSettings()),
		HookURL:  req.GetHookUrl(),
		// Untagged: the host relays these lines through a logger that
		// already names the provider.
		Logger: s.logger,
	}
	if err := s.p.Configure(ctx, cfg); err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.ConfigureResponse{}, nil
}

func (s *server) Send(ctx context.Context, req *pluginpb.SendRequest) (*pluginpb.SendResponse, error) {
	results, err := s.p.Send(ctx, messagesFromPB(req.GetMessages()))
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.SendResponse{Results: resultsToPB(results)}, nil
}

func (s *server) Close(ctx context.Context, _ *pluginpb.CloseRequest) (*pluginpb.CloseResponse, error) {
	if err := s.shutdown(ctx); err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.CloseResponse{}, nil
}

func (s *server) Health(ctx context.Context, _ *pluginpb.HealthRequest) (*pluginpb.HealthResponse, error) {
	hc, ok := s.p.(HealthChecker)
	if !ok {
		return nil, unimplemented("HealthChecker")
	}
	h, err := hc.Health(ctx)
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.HealthResponse{Ok: h.OK, Detail: h.Detail, RefuseWhileDown: h.RefuseWhileDown}, nil
}

func (s *server) Balance(ctx context.Context, _ *pluginpb.BalanceRequest) (*pluginpb.BalanceResponse, error) {
	br, ok := s.p.(BalanceReporter)
	if !ok {
		return nil, unimplemented("BalanceReporter")
	}
	b, err := br.Balance(ctx)
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.BalanceResponse{Amount: b.Amount, Currency: b.Currency}, nil
}

func (s *server) SenderIDs(ctx context.Context, _ *pluginpb.SenderIDsRequest) (*pluginpb.SenderIDsResponse, error) {
	sl, ok := s.p.(SenderIDLister)
	if !ok {
		return nil, unimplemented("SenderIDLister")
	}
	ids, err := sl.SenderIDs(ctx)
	if err != nil {
		return nil, providerStatus(err)
	}
	out := make([]*pluginpb.SenderID, len(ids))
	for i, id := range ids {
		out[i] = &pluginpb.SenderID{Value: id.Value, Kind: id.Kind}
	}
	return &pluginpb.SenderIDsResponse{SenderIds: out}, nil
}

func (s *server) Outbox(ctx context.Context, req *pluginpb.OutboxRequest) (*pluginpb.OutboxResponse, error) {
	ob, ok := s.p.(OutboxReader)
	if !ok {
		return nil, unimplemented("OutboxReader")
	}
	msgs, err := ob.Outbox(ctx, int(req.GetLimit()))
	if err != nil {
		return nil, providerStatus(err)
	}
	out := make([]*pluginpb.OutboxMessage, len(msgs))
	for i, m := range msgs {
		out[i] = &pluginpb.OutboxMessage{MessageId: m.MessageID, ProviderMessageId: m.ProviderMessageID, To: m.To, From: m.From,
			Text: m.Text, Kind: m.Kind, Segments: int32(m.Segments), SentAt: timeToPB(m.SentAt)}
	}
	return &pluginpb.OutboxResponse{Messages: out}, nil
}

func (s *server) QueryStatus(ctx context.Context, req *pluginpb.QueryStatusRequest) (*pluginpb.QueryStatusResponse, error) {
	sq, ok := s.p.(StatusQuerier)
	if !ok {
		return nil, unimplemented("StatusQuerier")
	}
	statuses, err := sq.QueryStatus(ctx, req.GetProviderMessageIds())
	if err != nil {
		return nil, providerStatus(err)
	}
	out := make([]*pluginpb.StatusEvent, len(statuses))
	for i, st := range statuses {
		out[i] = statusEventToPB(st)
	}
	return &pluginpb.QueryStatusResponse{Statuses: out}, nil
}

func (s *server) QuerySent(ctx context.Context, req *pluginpb.QuerySentRequest) (*pluginpb.QuerySentResponse, error) {
	sq, ok := s.p.(SentQuerier)
	if !ok {
		return nil, unimplemented("SentQuerier")
	}
	results, err := sq.QuerySent(ctx, req.GetMessageIds())
	if err != nil {
		return nil, providerStatus(err)
	}
	return &pluginpb.QuerySentResponse{Results: resultsToPB(results)}, nil
}

// startSource runs the provider's event source once per process, however
// often the host reopens the stream: the provider's connection (an SMPP
// bind, a modem) outlives any one stream.
func (s *server) startSource(es EventSource) {
	s.sourceOnce.Do(func() {
		close(s.sourceStarted)
		go func() {
			defer close(s.sourceDone)
			err := es.Events(s.ctx, s.outbox.emit)
			if err != nil && s.ctx.Err() == nil {
				s.logger.Error("provider's event source stopped", "error", err)
			}
			s.outbox.finish(err)
		}()
	})
}

func (s *server) Events(stream pluginpb.Provider_EventsServer) error {
	es, ok := s.p.(EventSource)
	if !ok {
		return unimplemented("EventSource")
	}
	s.startSource(es)
	ctx := stream.Context()

	// Acks arrive independently of what we send; the receiver ends when the
	// stream does, which returning from this handler guarantees.
	recvErr := make(chan error, 1)
	go func() {
		for {
			ack, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			s.outbox.ack(ack.GetDeliveryId())
		}
	}()

	gen := s.outbox.open()
	for {
		send, changed, current, drained, srcErr := s.outbox.take(gen)
		if !current {
			// The host opened another stream, which sends what is pending.
			return nil
		}
		for _, d := range send {
			if err := stream.Send(&pluginpb.EventDelivery{DeliveryId: d.id, Event: d.ev}); err != nil {
				return err
			}
		}
		if drained {
			switch {
			case s.ctx.Err() != nil:
				return status.Error(codes.Unavailable, "plugin is shutting down")
			case srcErr != nil:
				return providerStatus(fmt.Errorf("event source stopped: %w", srcErr))
			default:
				return providerStatus(errors.New("event source stopped; this plugin process sends no more events"))
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.ctx.Done():
			return status.Error(codes.Unavailable, "plugin is shutting down")
		case <-recvErr:
			// The host stopped listening (closed its side or went away):
			// whatever is unacknowledged waits for the next stream.
			return nil
		}
	}
}

func (s *server) Hook(req *pluginpb.HookRequest, stream pluginpb.Provider_HookServer) error {
	hh, ok := s.p.(HookHandler)
	if !ok {
		return unimplemented("HookHandler")
	}
	w := newHookWriter(stream)
	if err := s.callHook(stream.Context(), hh, hookRequestFromPB(req), w); err != nil {
		// Events emitted before the failure are not handed over: the host
		// answers the caller with an error, so the caller sends the request
		// again and the handler emits them anew (with the same event ids).
		return providerStatus(err)
	}
	return w.finish()
}

// callHook runs the provider's HandleHook and turns a panic into the
// request's error: a bug in handling one request must not end the process,
// and with it every Send in flight, whose outcome would then be unknown.
func (s *server) callHook(ctx context.Context, hh HookHandler, req *HookRequest, w HookResponseWriter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("HandleHook panicked; the request is answered as failed and the plugin keeps running",
				"path", req.Path, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("HandleHook panicked: %v", r)
		}
	}()
	return hh.HandleHook(ctx, req, w)
}
