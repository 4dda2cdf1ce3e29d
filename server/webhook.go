package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// webhookRoutes are the calling key's account's webhook settings and the
// deliveries made for its messages. Settings need receive_sms (or admin):
// they decide where the account's inbound messages and delivery reports go.
func (a *api) webhookRoutes(authed *gin.RouterGroup) {
	authed.GET("/webhook", require(account.PermReceiveSMS), a.getWebhook)
	authed.PUT("/webhook", require(account.PermReceiveSMS), a.putWebhook)
	authed.DELETE("/webhook", require(account.PermReceiveSMS), a.deleteWebhook)
	authed.POST("/webhook/test", require(account.PermReceiveSMS), a.testWebhook)
	authed.GET("/sms/:message_id/webhooks", a.messageWebhooks)
}

// webhookJSON is an account's webhook settings as the API shows them: never
// the secret, except once, right after it was generated.
type webhookJSON struct {
	URL             string    `json:"url"`
	CreatedAt       time.Time `json:"created_at"`
	SecretRotatedAt time.Time `json:"secret_rotated_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	// Secret is set only in the answer that generated it.
	Secret string `json:"secret,omitempty"`
}

func toWebhookJSON(w account.Webhook, secret string) webhookJSON {
	return webhookJSON{URL: w.URL, CreatedAt: w.CreatedAt.UTC(), SecretRotatedAt: w.SecretRotatedAt.UTC(),
		UpdatedAt: w.UpdatedAt.UTC(), Secret: secret}
}

// webhooksAvailable answers 503 when the server runs without a store.
func (a *api) webhooksAvailable(c *gin.Context) bool {
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "webhooks are not available on this server")
		return false
	}
	return true
}

func (a *api) getWebhook(c *gin.Context) {
	if !a.webhooksAvailable(c) {
		return
	}
	w, err := a.o.Accounts.Webhook(c.Request.Context(), apiKey(c).AccountID)
	if errors.Is(err, account.ErrNotFound) {
		fail(c, http.StatusNotFound, "this account has no webhook; set one with PUT /api/v1/webhook")
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookJSON(w, ""))
}

type putWebhookBody struct {
	// URL is nil when the field is missing, which is refused: an empty
	// string must be sent on purpose.
	URL          *string `json:"url"`
	RotateSecret bool    `json:"rotate_secret"`
}

func (a *api) putWebhook(c *gin.Context) {
	if !a.webhooksAvailable(c) {
		return
	}
	var b putWebhookBody
	if !decode(c, &b) {
		return
	}
	if b.URL == nil {
		fail(c, http.StatusUnprocessableEntity, `url is required: the https:// URL to send events to, or "" for per-message callback_url only`)
		return
	}
	url := strings.TrimSpace(*b.URL)
	if url != "" {
		if err := egress.CheckURL(url, a.o.Egress); err != nil {
			fail(c, http.StatusUnprocessableEntity, "url "+err.Error())
			return
		}
	}
	w, secret, err := a.o.Accounts.SetWebhook(c.Request.Context(), apiKey(c).AccountID, url, b.RotateSecret)
	if errors.Is(err, account.ErrConflict) {
		fail(c, http.StatusConflict, "the webhook was being created by another request at the same moment; read it with GET /api/v1/webhook")
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	a.log.Info("webhook set", "account", w.AccountID, "url", w.URL, "secret_rotated", secret != "")
	c.JSON(http.StatusOK, toWebhookJSON(w, secret))
}

func (a *api) deleteWebhook(c *gin.Context) {
	if !a.webhooksAvailable(c) {
		return
	}
	err := a.o.Accounts.DeleteWebhook(c.Request.Context(), apiKey(c).AccountID)
	if errors.Is(err, account.ErrNotFound) {
		fail(c, http.StatusNotFound, "this account has no webhook")
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// webhookTestJSON is what a test event's receiver answered.
type webhookTestJSON struct {
	EventID    string  `json:"event_id"`
	Type       string  `json:"type"`
	URL        string  `json:"url"`
	Delivered  bool    `json:"delivered"`
	HTTPStatus *int    `json:"http_status"`
	Error      *string `json:"error"`
	DurationMS int64   `json:"duration_ms"`
}

// testWebhook sends a signed test event to the account's webhook now and
// answers what the receiver said: 200 whether or not it accepted the
// event (delivered says which), 404 without a webhook URL.
func (a *api) testWebhook(c *gin.Context) {
	if a.o.WebhookTests == nil {
		fail(c, http.StatusServiceUnavailable, "test webhooks are not available on this server")
		return
	}
	res, err := a.o.WebhookTests.TestWebhook(c.Request.Context(), apiKey(c).AccountID)
	switch {
	case errors.Is(err, account.ErrNotFound):
		fail(c, http.StatusNotFound, "this account has no webhook; set one with PUT /api/v1/webhook, then send the test event")
		return
	case err != nil:
		a.coreError(c, err)
		return
	}
	if res.URL == "" {
		fail(c, http.StatusNotFound, "this account's webhook has no URL (only per-message callback_url); set one with PUT /api/v1/webhook")
		return
	}
	out := webhookTestJSON{EventID: res.EventID, Type: core.EventWebhookTest, URL: res.URL, Delivered: res.Delivered, DurationMS: res.Duration.Milliseconds()}
	if res.HTTPStatus != 0 {
		out.HTTPStatus = &res.HTTPStatus
	}
	if res.Error != "" {
		out.Error = &res.Error
	}
	c.JSON(http.StatusOK, out)
}

type webhookAttemptJSON struct {
	At         time.Time `json:"at"`
	HTTPStatus *int      `json:"http_status"`
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
}

type webhookDeliveryJSON struct {
	EventID     string               `json:"event_id"`
	Type        string               `json:"type"`
	URL         *string              `json:"url"`
	State       string               `json:"state"`
	CreatedAt   time.Time            `json:"created_at"`
	NextAttempt *time.Time           `json:"next_attempt_at"`
	DeliveredAt *time.Time           `json:"delivered_at"`
	GaveUpAt    *time.Time           `json:"gave_up_at"`
	Attempts    []webhookAttemptJSON `json:"attempts"`
}

func (a *api) messageWebhooks(c *gin.Context) {
	if !a.webhooksAvailable(c) {
		return
	}
	id := c.Param("message_id")
	hooks, err := a.o.Accounts.MessageWebhooks(c.Request.Context(), apiKey(c).AccountID, id)
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message_id": id, "webhooks": webhookDeliveries(hooks)})
}

// webhookDeliveries renders a message's webhooks with their attempts.
func webhookDeliveries(hooks []outbox.Logged) []webhookDeliveryJSON {
	out := make([]webhookDeliveryJSON, len(hooks))
	for i, h := range hooks {
		d := webhookDeliveryJSON{EventID: h.EventID, Type: string(h.Type), State: string(h.State), CreatedAt: h.CreatedAt.UTC(),
			DeliveredAt: utc(h.DeliveredAt), GaveUpAt: utc(h.GaveUpAt), Attempts: make([]webhookAttemptJSON, len(h.AttemptLog))}
		if url := h.URL; url != "" {
			d.URL = &url
		}
		if h.State == outbox.Pending {
			next := h.NextAttemptAt.UTC()
			d.NextAttempt = &next
		}
		for k, at := range h.AttemptLog {
			aj := webhookAttemptJSON{At: at.At.UTC(), DurationMS: at.DurationMS}
			if at.HTTPStatus != 0 {
				aj.HTTPStatus = &at.HTTPStatus
			}
			if at.Error != "" {
				aj.Error = &at.Error
			}
			d.Attempts[k] = aj
		}
		out[i] = d
	}
	return out
}
