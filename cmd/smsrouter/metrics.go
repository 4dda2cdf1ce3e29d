package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/metrics"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/webhook"
	"github.com/smsrouter/smsrouter/server"
)

// newMetrics returns the metrics of a serve run as the config's metrics
// block asks. The host must be started: its providers' counters start at
// zero.
func newMetrics(c config.Metrics, st *store.Store, host *pluginhost.Host, log hclog.Logger) runMetrics {
	if c.Disabled {
		return runMetrics{cfg: c}
	}
	o := metrics.Options{Logger: log, Providers: host, DatabaseRefresh: c.DatabaseRefresh,
		CountRefresh: c.CountRefresh, NoCounts: c.NoCounts}
	if !c.NoDatabase {
		o.Database = st
	}
	return runMetrics{m: metrics.New(o), cfg: c}
}

// serveMetrics serves h at /metrics on its own listener, for a metrics
// block with a listen address of its own.
func serveMetrics(addr string, h http.Handler, log hclog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w (change server { metrics { listen } })", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server stopped", "error", err)
		}
	}()
	log.Info("serving metrics", "listen", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}

// runMetrics hands a serve run's metrics to each part it instruments; with
// metrics switched off (nil), every part gets nothing and runs as is.
type runMetrics struct {
	m   *metrics.Metrics
	cfg config.Metrics
}

func (r runMetrics) providers(p dispatch.Providers) dispatch.Providers {
	if r.m == nil {
		return p
	}
	return r.m.InstrumentProviders(p)
}

func (r runMetrics) dispatch() dispatch.Metrics {
	if r.m == nil {
		return nil
	}
	return r.m
}

func (r runMetrics) accepted() core.AcceptedCounter {
	if r.m == nil {
		return nil
	}
	return r.m
}

func (r runMetrics) webhooks() webhook.Observer {
	if r.m == nil {
		return nil
	}
	return r.m
}

func (r runMetrics) requests() server.RequestObserver {
	if r.m == nil {
		return nil
	}
	return r.m
}

// apiHandler is what the API listener serves at /metrics: nothing when
// metrics are off or have a listener of their own.
func (r runMetrics) apiHandler() http.Handler {
	if r.m == nil || r.cfg.Listen != "" {
		return nil
	}
	return server.MetricsHandler(r.m.Registry(), r.cfg.BearerToken)
}

// serveOwn starts the metrics' own listener when they have one.
func (r runMetrics) serveOwn(log hclog.Logger) (stop func(), err error) {
	if r.m == nil || r.cfg.Listen == "" {
		return func() {}, nil
	}
	return serveMetrics(r.cfg.Listen, server.MetricsHandler(r.m.Registry(), r.cfg.BearerToken), log)
}
