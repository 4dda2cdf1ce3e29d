package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/routing"
)

// RouteExplainer explains routing decisions; *routing.Router is one.
type RouteExplainer interface {
	Explain(ctx context.Context, f routing.Facts) routing.Explanation
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
	c.PureJSON(http.StatusOK, a.o.Routes.Explain(c.Request.Context(), f)) // rules are full of && and >
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
