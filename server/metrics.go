package server

import (
	"time"

	"github.com/gin-gonic/gin"
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
