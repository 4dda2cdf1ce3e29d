package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
)

// inboundRoutes read the inbound messages (handset → our number) of the
// calling key's account: what message.received webhooks announce, for
// applications that poll or missed a webhook.
func (a *api) inboundRoutes(authed *gin.RouterGroup) {
	authed.GET("/sms/inbound", require(account.PermReceiveSMS), a.listInbound)
	authed.GET("/sms/inbound/:id", require(account.PermReceiveSMS), a.getInbound)
}

// inboundJSON has the field names of the message.received webhook's data,
// so that one decoder serves both.
type inboundJSON struct {
	ID                string    `json:"id"`
	From              string    `json:"from"`
	To                string    `json:"to"`
	Text              string    `json:"text"`
	Provider          string    `json:"provider"`
	ProviderMessageID string    `json:"provider_message_id"`
	ReceivedAt        time.Time `json:"received_at"`
}

func toInboundJSON(m inbound.Message) inboundJSON {
	return inboundJSON{ID: m.ID, From: m.Sender, To: m.Recipient, Text: m.Text, Provider: m.Provider,
		ProviderMessageID: m.ProviderMessageID, ReceivedAt: m.ReceivedAt.UTC()}
}

// inboundAvailable answers 503 when the server runs without a store.
func (a *api) inboundAvailable(c *gin.Context) bool {
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "inbound messages are not available on this server")
		return false
	}
	return true
}

func (a *api) listInbound(c *gin.Context) {
	if !a.inboundAvailable(c) {
		return
	}
	f := inbound.Filter{Cursor: c.Query("cursor"), Limit: defaultPageSize,
		From: phoneQuery(c, "from"), To: phoneQuery(c, "to")}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("limit must be a whole number from 1 to %d", maxPageSize))
			return
		}
		f.Limit = n
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.Query(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fail(c, http.StatusUnprocessableEntity, p.name+" must be an RFC 3339 time such as 2025-10-22T10:30:00Z")
				return
			}
			*p.dst = t
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		fail(c, http.StatusUnprocessableEntity, "until must be later than since")
		return
	}
	msgs, next, err := a.o.Accounts.Inbound(c.Request.Context(), apiKey(c).AccountID, f)
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := make([]inboundJSON, len(msgs))
	for i, m := range msgs {
		out[i] = toInboundJSON(m)
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"messages": out, "next_cursor": cursor})
}

// phoneQuery reads a number from the query string. An unencoded "+" in a
// query string means a space, so "?from=+95912" arrives as " 95912": the
// plus the caller meant is put back rather than matching nothing.
func phoneQuery(c *gin.Context, name string) string {
	v := c.Query(name)
	if strings.HasPrefix(v, " ") && strings.TrimSpace(v) != "" {
		return "+" + strings.TrimSpace(v)
	}
	return strings.TrimSpace(v)
}

func (a *api) getInbound(c *gin.Context) {
	if !a.inboundAvailable(c) {
		return
	}
	m, err := a.o.Accounts.InboundMessage(c.Request.Context(), apiKey(c).AccountID, c.Param("id"))
	if errors.Is(err, account.ErrNotFound) {
		fail(c, http.StatusNotFound, "Inbound message not found")
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusOK, toInboundJSON(m))
}
