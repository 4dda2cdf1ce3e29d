package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// scheduling is the part of a send or bulk body that says when to send and
// for how long to keep trying.
type scheduling struct {
	// SendAt is an RFC 3339 time; empty means at once.
	SendAt string `json:"send_at"`
	// Validity is seconds from the send time; nil means the configured
	// default.
	Validity *int `json:"validity"`
}

// labels are what a send or bulk body says about the message for routing
// rules to read: its kind and the application's tags. Core checks them.
type labels struct {
	Kind message.Kind      `json:"kind"`
	Tags map[string]string `json:"tags"`
}

// schedule reads send_at and validity into req, answering 422 when they
// are malformed; core checks the bounds.
func (s scheduling) schedule(c *gin.Context, req *core.SendRequest) bool {
	if s.SendAt != "" {
		t, err := time.Parse(time.RFC3339, s.SendAt)
		if err != nil {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("send_at %q is not an RFC 3339 time such as 2030-01-02T15:04:05Z", s.SendAt))
			return false
		}
		req.SendAt = t
	}
	if s.Validity != nil {
		if *s.Validity <= 0 {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("validity is seconds the message may wait for a provider and must be positive, got %d", *s.Validity))
			return false
		}
		req.Validity = time.Duration(*s.Validity) * time.Second
	}
	return true
}

// cancel ends a message no provider has accepted yet.
func (a *api) cancel(c *gin.Context) {
	m, err := a.o.Messages.Cancel(c.Request.Context(), apiKey(c).AccountID, c.Param("message_id"))
	var nc *message.NotCancellableError
	switch {
	case errors.As(err, &nc):
		code := "not_cancellable"
		if nc.Sending {
			code = "sending"
		}
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": nc.Error(), "code": code, "status": nc.Status})
	case err != nil:
		a.coreError(c, err)
	default:
		c.JSON(http.StatusOK, messageJSON(m))
	}
}

// providerJSON is a provider's state with the limits this server applies
// to it.
type providerJSON struct {
	pluginhost.ProviderStatus
	Limits providerLimits `json:"limits"`
}

// providerLimits are a provider's limits; null means unlimited.
type providerLimits struct {
	TPS         *float64 `json:"tps"`
	Concurrency *int     `json:"concurrency"`
}

func limitsJSON(l config.Limits) providerLimits {
	var out providerLimits
	if l.TPS > 0 {
		out.TPS = &l.TPS
	}
	if l.Concurrency > 0 {
		out.Concurrency = &l.Concurrency
	}
	return out
}
