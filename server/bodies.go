package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/account"
)

type accountBody struct {
	MessageBodies *string `json:"message_bodies"`
}

// updateAccount changes an account's settings; message_bodies is the only
// one so far: what its messages keep of their text once final.
func (a *api) updateAccount(c *gin.Context) {
	var b accountBody
	if !decode(c, &b) {
		return
	}
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "account settings are not available on this server")
		return
	}
	if b.MessageBodies == nil {
		fail(c, http.StatusUnprocessableEntity, `message_bodies is required: "full", "masked" or "none"`)
		return
	}
	p, err := account.ParseMessageBodies(*b.MessageBodies)
	if err != nil {
		fail(c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	acc, err := a.o.Accounts.SetMessageBodies(c.Request.Context(), c.Param("id"), p)
	if errors.Is(err, account.ErrNotFound) {
		fail(c, http.StatusNotFound, "account not found: "+c.Param("id"))
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	a.log.Info("account settings changed", "account", acc.ID, "message_bodies", acc.MessageBodies, "by_key", apiKey(c).ID)
	c.JSON(http.StatusOK, gin.H{"id": acc.ID, "name": acc.Name, "message_bodies": acc.MessageBodies})
}
