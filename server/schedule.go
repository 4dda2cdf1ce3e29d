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
// to it. Its own fields, not pluginhost's or sdk's types: the API's names
// are snake_case and stay put when those types change.
type providerJSON struct {
	Name         string           `json:"name"`
	Plugin       string           `json:"plugin"`
	State        pluginhost.State `json:"state"`
	PID          int              `json:"pid,omitempty"`
	Restarts     int              `json:"restarts"`
	LastError    string           `json:"last_error,omitempty"`
	Healthy      bool             `json:"healthy"`
	HealthDetail string           `json:"health_detail,omitempty"`
	Balance      *balanceJSON     `json:"balance,omitempty"`
	BalanceAt    *time.Time       `json:"balance_at,omitempty"`
	Capabilities capabilitiesJSON `json:"capabilities"`
	Limits       providerLimits   `json:"limits"`
	// RefuseWhileDown: while unhealthy, messages with no other provider
	// are refused at accept (503 "No gateway online").
	RefuseWhileDown bool `json:"refuse_while_down,omitempty"`
	// Operators and Countries: the networks it can send on now, for
	// providers that say (phones, modems); routing's provider_operators
	// and provider_countries.
	Operators []string `json:"operators,omitempty"`
	Countries []string `json:"countries,omitempty"`
	// Devices: its phones or modem ports, for providers that have them.
	Devices []deviceJSON `json:"devices,omitempty"`
}

// balanceJSON is a provider account's credit as its plugin last reported it.
type balanceJSON struct {
	Amount   float64 `json:"amount"`
	Currency string  `json:"currency"`
}

// capabilitiesJSON is the plugin's Info and which optional parts it
// implements.
type capabilitiesJSON struct {
	Plugin             string `json:"plugin"`
	Version            string `json:"version"`
	MaxBatchSize       int    `json:"max_batch_size"`
	Events             bool   `json:"events"`
	Hooks              bool   `json:"hooks"`
	Health             bool   `json:"health"`
	Balance            bool   `json:"balance"`
	SenderIDs          bool   `json:"sender_ids"`
	StatusQuery        bool   `json:"status_query"`
	Outbox             bool   `json:"outbox"`
	SentQuery          bool   `json:"sent_query"`
	SettingsValidation bool   `json:"settings_validation"`
	Numbers            bool   `json:"numbers"`
	Devices            bool   `json:"devices"`
	RevokeDevice       bool   `json:"revoke_device"`
	Networks           bool   `json:"networks"`
	Tune               bool   `json:"tune"`
}

func statusJSON(p pluginhost.ProviderStatus, l config.Limits) providerJSON {
	c := p.Capabilities
	out := providerJSON{Name: p.Name, Plugin: p.Plugin, State: p.State, PID: p.PID, Restarts: p.Restarts,
		LastError: p.LastError, Healthy: p.Healthy, HealthDetail: p.HealthDetail, BalanceAt: p.BalanceAt,
		Capabilities: capabilitiesJSON{Plugin: c.Plugin, Version: c.Version, MaxBatchSize: c.MaxBatchSize,
			Events: c.Events, Hooks: c.Hooks, Health: c.Health, Balance: c.Balance, SenderIDs: c.SenderIDs,
			StatusQuery: c.StatusQuery, Outbox: c.Outbox, SentQuery: c.SentQuery, SettingsValidation: c.SettingsValidation,
			Numbers: c.Numbers, Devices: c.Devices, RevokeDevice: c.RevokeDevice, Networks: c.Networks, Tune: c.Tune},
		Limits: limitsJSON(l), RefuseWhileDown: p.RefuseWhileDown, Operators: p.Operators, Countries: p.Countries,
		Devices: devicesJSON(p.Devices)}
	if p.Balance != nil {
		out.Balance = &balanceJSON{Amount: p.Balance.Amount, Currency: p.Balance.Currency}
	}
	return out
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
