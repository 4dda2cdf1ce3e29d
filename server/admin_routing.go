package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/routing"
)

// RouteExplainer explains routing decisions, with the live provider state
// and clock or what the caller assumes instead; *routing.Router is one.
type RouteExplainer interface {
	ExplainWhatIf(ctx context.Context, f routing.Facts, w routing.WhatIf) routing.Explanation
	Table() *routing.Table
}

func (a *api) routeAdmin(g *gin.RouterGroup) {
	if a.o.Routes != nil {
		g.POST("/admin/route/explain", requireSystem, a.explainRoute)
	}
	if a.o.Reload != nil {
		g.POST("/admin/reload", requireSystem, a.reload)
	}
}

type explainBody struct {
	To      string `json:"to"`
	Message string `json:"message"`
	// Text is accepted as another name for message, as the CLI calls it.
	Text      string            `json:"text"`
	From      string            `json:"from"`
	Kind      message.Kind      `json:"kind"`
	Account   string            `json:"account"`
	Tags      map[string]string `json:"tags"`
	MessageID string            `json:"message_id"`
	// At decides as if it were this moment (RFC 3339); "" is now.
	At string `json:"at"`
	// Providers replace parts of providers' live state, by name.
	Providers map[string]providerPatch `json:"providers"`
}

// providerPatch is what an explanation assumes of one provider instead of
// its live state; absent fields keep the live value.
type providerPatch struct {
	Healthy     *bool    `json:"healthy"`
	Balance     *float64 `json:"balance"`
	SuccessRate *float64 `json:"success_rate"`
}

// explainRoute answers which route and providers a message would get now,
// and why, without sending anything.
func (a *api) explainRoute(c *gin.Context) {
	var b explainBody
	if !decode(c, &b) {
		return
	}
	if b.Message == "" {
		b.Message = b.Text
	}
	account := b.Account
	if account == "" {
		account = apiKey(c).AccountID
	}
	f, err := core.Facts(account, core.SendRequest{To: b.To, Message: b.Message, From: b.From, Kind: b.Kind, Tags: b.Tags})
	if err != nil {
		a.coreError(c, err)
		return
	}
	f.MessageID = b.MessageID
	if f.MessageID == "" {
		f.MessageID = recordid.New("msg") // as a message sent now would get
	}
	w, err := b.whatIf(a.o.Routes.Table().Providers())
	if err != nil {
		fail(c, http.StatusBadRequest, err.Error())
		return
	}
	c.PureJSON(http.StatusOK, a.o.Routes.ExplainWhatIf(c.Request.Context(), f, w)) // rules are full of && and >
}

func (b explainBody) whatIf(providers []string) (routing.WhatIf, error) {
	at, err := routing.ParseAt(b.At)
	if err != nil {
		return routing.WhatIf{}, fmt.Errorf("at: %w", err)
	}
	w := routing.WhatIf{At: at}
	if len(b.Providers) > 0 {
		w.Providers = make(map[string]routing.ProviderPatch, len(b.Providers))
		for name, p := range b.Providers {
			if !slices.Contains(providers, name) {
				return routing.WhatIf{}, fmt.Errorf("providers names %q, which is not configured; configured providers: %s", name, strings.Join(providers, ", "))
			}
			if p.SuccessRate != nil && (*p.SuccessRate < 0 || *p.SuccessRate > 1) {
				return routing.WhatIf{}, fmt.Errorf("providers.%s.success_rate must be between 0 and 1", name)
			}
			w.Providers[name] = routing.ProviderPatch{Healthy: p.Healthy, Balance: p.Balance, SuccessRate: p.SuccessRate}
		}
	}
	return w, nil
}

// reload swaps in the configuration file's routing table; a file that does
// not load is refused with every problem listed, and the running table stays.
func (a *api) reload(c *gin.Context) {
	err := a.o.Reload(c.Request.Context())
	if err == nil {
		c.JSON(http.StatusOK, gin.H{"success": true})
		return
	}
	if errors.Is(err, context.Canceled) {
		c.Abort()
		return
	}
	var problems []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			problems = append(problems, line)
		}
	}
	if len(problems) == 0 {
		problems = []string{"reload refused"}
	}
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity, gin.H{"error": problems[0], "problems": problems[1:]})
}
