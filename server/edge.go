package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// maxHeaderBytes caps a request's header fields. Go's HTTP server has its
// own, larger cap (http.Server.MaxHeaderBytes, 1 MiB by default) that it
// answers in plain text before any handler runs; below it, this one
// answers in the API's JSON.
const maxHeaderBytes = 64 << 10

// limitHeaders answers 431 when the request's header fields are larger
// than maxHeaderBytes.
func limitHeaders(c *gin.Context) {
	n := len(c.Request.Method) + len(c.Request.RequestURI)
	for name, values := range c.Request.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4 // ": " and CRLF
		}
	}
	if n > maxHeaderBytes {
		fail(c, http.StatusRequestHeaderFieldsTooLarge, fmt.Sprintf("request header fields are %d bytes; the limit is %d", n, maxHeaderBytes))
		return
	}
	c.Next()
}

// noMethod answers a path some route has under other methods. Only a path
// that exists as such (/api/v1/sms/send) gets 405 with Allow; one that
// matched only a route's parameter (/api/v1/sms/sendd matches DELETE
// /api/v1/sms/:message_id) is an unknown path, 404.
func noMethod(r *gin.Engine) gin.HandlerFunc {
	return func(c *gin.Context) {
		path := c.Request.URL.Path
		shown := redactPath(path)
		var allow []string
		for _, rt := range r.Routes() {
			if rt.Path == path && rt.Method != c.Request.Method {
				allow = append(allow, rt.Method)
			}
		}
		if len(allow) == 0 {
			fail(c, http.StatusNotFound, "no such endpoint: "+c.Request.Method+" "+shown)
			return
		}
		slices.Sort(allow)
		c.Header("Allow", strings.Join(allow, ", "))
		fail(c, http.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s; it takes %s", c.Request.Method, shown, strings.Join(allow, ", ")))
	}
}

// readyTimeout bounds the readiness check's database ping.
const readyTimeout = 2 * time.Second

// ready is the readiness check: 200 when the database answers, 503 with
// the reason when it does not. /up stays the liveness check (the process
// serves HTTP), as the integration guide uses it.
func (a *api) ready(c *gin.Context) {
	if a.o.Accounts == nil {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	if err := a.o.Accounts.Ready(ctx); err != nil {
		a.log.Warn("readiness check: the database does not answer", "error", err)
		c.Header("Retry-After", "5")
		fail(c, http.StatusServiceUnavailable, "not ready: the database does not answer")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "database": "ok"})
}

// unavailable answers a request the database could not serve because it
// is unreachable or dropped the connection: the same request may succeed
// shortly.
func (a *api) unavailable(c *gin.Context, err error) {
	a.log.Warn("request failed: the database is unavailable", "path", c.FullPath(), "error", err)
	c.Header("Retry-After", "5")
	fail(c, http.StatusServiceUnavailable, "Service unavailable: the database cannot be reached right now; try again shortly (a send retried with the same Idempotency-Key is never sent twice)")
}
