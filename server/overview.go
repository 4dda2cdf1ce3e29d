package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
)

// overviewJSON is GET /api/v1/admin/overview's answer: what the console's
// overview charts.
type overviewJSON struct {
	// AccountID is the account counted; null for every account.
	AccountID *string              `json:"account_id"`
	Since     time.Time            `json:"since"`
	Minutes   []minuteJSON         `json:"per_minute"`
	Queue     queueJSON            `json:"queue"`
	Webhooks  webhookBacklogJSON   `json:"webhook_backlog"`
	Providers []providerHealthJSON `json:"providers,omitempty"`
}

type minuteJSON struct {
	Minute     time.Time      `json:"minute"`
	ByStatus   map[string]int `json:"by_status"`
	ByProvider map[string]int `json:"by_provider"`
}

type queueJSON struct {
	Queued  int `json:"queued"`
	Pending int `json:"pending"`
}

type webhookBacklogJSON struct {
	Pending int        `json:"pending"`
	Oldest  *time.Time `json:"oldest_created_at"`
}

// providerHealthJSON is a provider's health in the overview (system
// admins only, as in /admin/providers).
type providerHealthJSON struct {
	Name         string `json:"name"`
	State        string `json:"state"`
	Healthy      bool   `json:"healthy"`
	HealthDetail string `json:"health_detail,omitempty"`
	Restarts     int    `json:"restarts"`
}

// overview counts the last minutes of messages by status and provider,
// the queue and the webhook backlog: the caller's account, or (system
// admins) any account with account_id, or every account without it.
func (a *api) overview(c *gin.Context) {
	minutes := 60
	if v := c.Query("minutes"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > core.MaxOverviewMinutes {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("minutes must be a whole number from 1 to %d", core.MaxOverviewMinutes))
			return
		}
		minutes = n
	}
	key := apiKey(c)
	o, err := a.o.Messages.Overview(c.Request.Context(), key, c.Query("account_id"), minutes)
	if errors.Is(err, account.ErrForbidden) {
		fail(c, http.StatusForbidden, err.Error())
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	out := overviewJSON{Since: o.Since, Minutes: make([]minuteJSON, len(o.Minutes)),
		Queue: queueJSON{Queued: o.Queue.Queued, Pending: o.Queue.Pending}, Webhooks: webhookBacklogJSON{Pending: o.Webhook.Pending, Oldest: o.Webhook.Oldest}}
	if o.AccountID != "" {
		out.AccountID = &o.AccountID
	}
	for i, m := range o.Minutes {
		// Messages no provider took yet (queued, refused at once) are in
		// by_status only.
		delete(m.ByProvider, "")
		out.Minutes[i] = minuteJSON{Minute: m.Minute, ByStatus: statusCounts(m.ByStatus), ByProvider: m.ByProvider}
	}
	if key.Has(account.PermSystemAdmin) && a.o.Providers != nil {
		for _, p := range a.o.Providers.Statuses() {
			out.Providers = append(out.Providers, providerHealthJSON{Name: p.Name, State: string(p.State), Healthy: p.Healthy,
				HealthDetail: p.HealthDetail, Restarts: p.Restarts})
		}
	}
	c.JSON(http.StatusOK, out)
}

func statusCounts(m map[message.Status]int) map[string]int {
	out := make(map[string]int, len(m))
	for s, n := range m {
		out[string(s)] = n
	}
	return out
}
