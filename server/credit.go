package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/money"
)

// insufficientCredit answers a send the account cannot pay for with 402,
// the amount needed and the balance, in the account's currency.
func (a *api) insufficientCredit(c *gin.Context, e *account.InsufficientCreditError) {
	cur := a.currency()
	what := "this message costs"
	if e.Messages > 1 {
		what = fmt.Sprintf("these %d messages cost", e.Messages)
	}
	msg := fmt.Sprintf("Insufficient credit: %s %s %s and the balance is %s %s", what, e.Needed, cur, e.Balance, cur)
	if e.CreditLimit > 0 {
		msg += fmt.Sprintf(" with a credit limit of %s %s", e.CreditLimit, cur)
	}
	c.AbortWithStatusJSON(http.StatusPaymentRequired, gin.H{"error": msg + "; top up the account or send fewer messages",
		"code": "insufficient_credit", "needed": e.Needed, "balance": e.Balance, "currency": cur})
}

func (a *api) ledger(c *gin.Context) {
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "the ledger is not available on this server")
		return
	}
	p := account.LedgerPage{Cursor: c.Query("cursor"), Limit: defaultPageSize}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("limit must be a whole number from 1 to %d", maxPageSize))
			return
		}
		p.Limit = n
	}
	entries, next, err := a.o.Accounts.Ledger(c.Request.Context(), apiKey(c).AccountID, p)
	if err != nil {
		a.coreError(c, err)
		return
	}
	if entries == nil {
		entries = []account.LedgerEntry{}
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	c.JSON(http.StatusOK, gin.H{"entries": entries, "currency": a.currency(), "next_cursor": cursor})
}

type creditBody struct {
	Amount *money.Amount `json:"amount"`
	Reason string        `json:"reason"`
}

// creditAccount adds credit to an account (or takes it away with a
// negative amount), with a ledger entry.
func (a *api) creditAccount(c *gin.Context) {
	var b creditBody
	if !decode(c, &b) {
		return
	}
	if a.o.Accounts == nil {
		fail(c, http.StatusServiceUnavailable, "account credit is not available on this server")
		return
	}
	switch {
	case b.Amount == nil || *b.Amount == 0:
		fail(c, http.StatusUnprocessableEntity, "amount is required: the credit to add, e.g. 25.50 (negative to take credit away)")
		return
	case len(b.Reason) > 500:
		fail(c, http.StatusUnprocessableEntity, "reason is longer than 500 characters")
		return
	}
	reason := strings.TrimSpace(b.Reason)
	if reason == "" {
		reason = "added through the admin API by key " + apiKey(c).ID
	}
	e, err := a.o.Accounts.AddCredit(c.Request.Context(), c.Param("id"), *b.Amount, reason)
	if errors.Is(err, account.ErrNotFound) {
		fail(c, http.StatusNotFound, "account not found: "+c.Param("id"))
		return
	}
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"account_id": c.Param("id"), "balance": e.BalanceAfter, "currency": a.currency(), "entry": e})
}
