package server

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// RequestObserver counts served requests; *metrics.Metrics is one.
type RequestObserver interface {
	ObserveRequest(method, route string, code int, took time.Duration)
}

// observeRequests reports each request under its route template
// (c.FullPath(), "" when no route matched), never its path: paths carry
// message ids, and each would be a series of its own.
func observeRequests(o RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		o.ObserveRequest(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start))
	}
}

// maxScrapes bounds the scrapes served at once; more are answered 503 at
// once rather than queued behind a slow database read.
const maxScrapes = 4

// MetricsHandler serves reg (core/metrics' registry) at /metrics in the
// Prometheus text format. With a non-empty token, only requests with
// "Authorization: Bearer <token>" are served; others get 401.
func MetricsHandler(reg *prometheus.Registry, token string) http.Handler {
	h := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A collector that fails still leaves the others' series served.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxScrapes,
		Timeout:             30 * time.Second,
	}))
	if token == "" {
		return h
	}
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="smsrouter metrics"`)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"Unauthorized: send the metrics token configured in server { metrics { bearer_token } } as 'Authorization: Bearer ...'"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
