package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// Limits of GET /api/v1/admin/providers/:name/outbox.
const (
	defaultOutboxLimit = 20
	maxOutboxLimit     = 10000
	outboxTimeout      = 5 * time.Second
)

// outboxRoutes serves the outbox of providers that keep one (the sandbox's
// mail catcher) to admin keys. It is deliberately not under the provider's
// public hook URL: the outbox holds message texts, OTP codes included.
func (a *api) outboxRoutes(authed *gin.RouterGroup) {
	authed.GET("/admin/providers/:name/outbox", requireSystem, a.outbox)
}

type outboxMessageJSON struct {
	MessageID         string    `json:"message_id"`
	ProviderMessageID string    `json:"provider_message_id"`
	To                string    `json:"to"`
	From              string    `json:"from"`
	Text              string    `json:"text"`
	Kind              string    `json:"kind"`
	Segments          int       `json:"segments"`
	SentAt            time.Time `json:"sent_at"`
}

func (a *api) outbox(c *gin.Context) {
	name := c.Param("name")
	limit, err := outboxLimit(c.Query("limit"))
	if err != nil {
		fail(c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	if a.o.Plugins == nil {
		fail(c, http.StatusServiceUnavailable, "this server runs no providers")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), outboxTimeout)
	defer cancel()
	msgs, err := a.o.Plugins.Outbox(ctx, name, limit)
	switch {
	case errors.Is(err, pluginhost.ErrUnknownProvider):
		fail(c, http.StatusNotFound, fmt.Sprintf("no provider named %q", name))
		return
	case pluginhost.IsNotSupported(err):
		fail(c, http.StatusNotFound, err.Error())
		return
	case err != nil:
		c.Header("Retry-After", "1")
		fail(c, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := make([]outboxMessageJSON, len(msgs))
	for i, m := range msgs {
		out[i] = outboxMessageJSON{MessageID: m.MessageID, ProviderMessageID: m.ProviderMessageID, To: m.To, From: m.From,
			Text: m.Text, Kind: string(m.Kind), Segments: m.Segments, SentAt: m.SentAt.UTC()}
	}
	c.JSON(http.StatusOK, gin.H{"provider": name, "messages": out})
}

// outboxLimit reads ?limit=, 1 to maxOutboxLimit.
func outboxLimit(v string) (int, error) {
	if v == "" {
		return defaultOutboxLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxOutboxLimit {
		return 0, fmt.Errorf("limit %q: want a whole number from 1 to %d", v, maxOutboxLimit)
	}
	return n, nil
}
