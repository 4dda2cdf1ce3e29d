package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
)

// messageDetailJSON is GET /api/v1/sms/{id}: a message's status answer
// with everything kept about it.
type messageDetailJSON struct {
	statusBody
	AccountID      string       `json:"account_id"`
	To             string       `json:"to"`
	From           string       `json:"from"`
	Text           string       `json:"text"`
	TextUnreadable bool         `json:"text_unreadable,omitempty"`
	Kind           message.Kind `json:"kind"`
	Encoding       string       `json:"encoding"`
	Segments       int          `json:"segments"`
	Country        string       `json:"country,omitempty"`
	Price          money.Amount `json:"price"`
	Currency       string       `json:"currency"`
	Route          string       `json:"route"`
	// Why is the decision kept at accept (routing.Why): the rule values
	// read, each candidate kept or dropped, the draw; null for messages
	// accepted before it was kept.
	Why               json.RawMessage       `json:"why"`
	Plan              []planEntryJSON       `json:"plan"`
	Provider          string                `json:"provider,omitempty"`
	ProviderMessageID string                `json:"provider_message_id,omitempty"`
	Attempts          int                   `json:"attempts"`
	ErrorCode         *string               `json:"error_code"`
	CreatedAt         time.Time             `json:"created_at"`
	ExpiresAt         time.Time             `json:"expires_at"`
	History           []statusChangeJSON    `json:"history"`
	Webhooks          []webhookDeliveryJSON `json:"webhooks"`
}

type planEntryJSON struct {
	Provider   string   `json:"provider"`
	FailoverOn []string `json:"failover_on,omitempty"`
	// Current marks the candidate the next (or last) attempt goes to.
	Current bool `json:"current,omitempty"`
}

type statusChangeJSON struct {
	Status         message.Status `json:"status"`
	At             time.Time      `json:"at"`
	Provider       string         `json:"provider,omitempty"`
	ProviderStatus string         `json:"provider_status,omitempty"`
	ProviderAt     *time.Time     `json:"provider_at,omitempty"`
	ErrorCode      string         `json:"error_code,omitempty"`
	Reason         string         `json:"reason,omitempty"`
	// Applied is false for a report that came too late to move the
	// message; it is kept for the record.
	Applied bool `json:"applied"`
}

// messageIDPrefix starts every message id.
const messageIDPrefix = "msg_"

// messageDetail answers one message in full: the account's own, or any
// for a system admin.
func (a *api) messageDetail(c *gin.Context) {
	if !strings.HasPrefix(c.Param("message_id"), messageIDPrefix) {
		// GET /sms/send or /sms/sendd is a wrong method or a typo, not a
		// message id: say so as for any other path.
		a.unrouted(c)
		return
	}
	d, hooks, err := a.o.Messages.MessageDetail(c.Request.Context(), apiKey(c), c.Param("message_id"))
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := messageDetailJSON{AccountID: d.AccountID, To: d.Recipient, From: d.Sender, Text: d.Text, TextUnreadable: d.TextUnreadable, Kind: d.Kind,
		Encoding: d.Encoding, Segments: d.Segments, Country: d.Country, Price: d.Charged, Currency: a.currency(),
		Route: d.Route, Plan: planJSON(d.Plan, d.Candidate), Provider: d.Provider, ProviderMessageID: d.ProviderMessageID,
		Attempts: d.Attempts, CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC(), History: historyJSON(d.History),
		Webhooks: webhookDeliveries(hooks)}
	out.statusBody = statusBody{MessageID: d.ID, Status: d.Status, SentAt: utc(d.SentAt), DeliveredAt: utc(d.DeliveredAt),
		FailedAt: utc(d.FailedAt), SendAt: utc(d.SendAt), ProviderStatusAt: utc(d.ProviderStatusAt)}
	if d.ErrorMessage != "" {
		out.ErrorMessage = &d.ErrorMessage
	}
	if d.Why != "" && json.Valid([]byte(d.Why)) {
		out.Why = json.RawMessage(d.Why)
	}
	if d.ErrorCode != "" {
		out.ErrorCode = &d.ErrorCode
	}
	c.JSON(http.StatusOK, out)
}

func planJSON(plan []message.PlanEntry, current int) []planEntryJSON {
	out := make([]planEntryJSON, len(plan))
	for i, p := range plan {
		out[i] = planEntryJSON{Provider: p.Provider, Current: i == current && len(plan) > 1}
		for _, r := range p.FailoverOn {
			out[i].FailoverOn = append(out[i].FailoverOn, string(r))
		}
	}
	return out
}

func historyJSON(changes []message.Change) []statusChangeJSON {
	out := make([]statusChangeJSON, len(changes))
	for i, ch := range changes {
		out[i] = statusChangeJSON{Status: ch.Status, At: ch.At.UTC(), Provider: ch.Provider, ProviderStatus: ch.ProviderStatus,
			ProviderAt: utc(ch.ProviderAt), ErrorCode: ch.ErrorCode, Reason: ch.Reason, Applied: ch.Applied}
	}
	return out
}
