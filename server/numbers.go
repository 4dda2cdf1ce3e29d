package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/numbers"
)

// numberRoutes serve numbers to receive on: the virtual-number API of
// seed 001 (the API key in the path, {"status": ..., "data": ...}), the
// same with a Bearer key, and the project's own /api/v1/numbers.
func (a *api) numberRoutes(r *gin.Engine, authed *gin.RouterGroup) {
	r.GET("/api/init/:api_key", a.pathKey("Unauthorized"), a.seedInit)
	r.GET("/api/get-number/:api_key", a.pathKey("Invalid api_key"), a.seedGetNumber)
	r.GET("/api/init", a.bearerSeedKey("Unauthorized"), a.seedInit)
	r.GET("/api/get-number", a.bearerSeedKey("Missing or invalid credentials"), a.seedGetNumber)

	n := authed.Group("/numbers", require(account.PermReceiveSMS), a.numbersAvailable)
	n.GET("/available", a.availableNumbers)
	n.POST("", a.assignNumber)
	n.GET("", a.heldNumbers)
	n.POST("/:number/release", a.releaseNumber)
	n.POST("/:number/extend", a.extendNumber)
	n.GET("/:number/messages", a.numberMessages)

	adm := authed.Group("/admin/numbers", requireSystem, a.numbersAvailable)
	adm.GET("", a.inventory)
	adm.POST("", a.addNumber)
	adm.DELETE("/:number", a.retireNumber)
	adm.GET("/:number/messages", a.adminNumberMessages)
	authed.POST("/admin/inbound/explain", requireSystem, a.numbersAvailable, a.explainInbound)
}

// Numbers is the part of core the number endpoints use; *core.Service is
// one.
type Numbers interface {
	Catalogue(ctx context.Context) ([]numbers.Country, []numbers.Operator, error)
	GetNumberByIDs(ctx context.Context, accountID string, countryID, operatorID int) (numbers.Number, error)
	AssignNumber(ctx context.Context, accountID, country, operator string, lease time.Duration) (numbers.Number, error)
	ReleaseNumber(ctx context.Context, accountID, e164 string) (numbers.Number, error)
	ExtendNumber(ctx context.Context, accountID, e164 string, d time.Duration) (numbers.Number, error)
	HeldNumbers(ctx context.Context, accountID string) ([]numbers.Number, error)
	AvailableNumbers(ctx context.Context, country, operator string, limit int) ([]numbers.Number, error)
	NumberMessages(ctx context.Context, accountID, e164 string, limit int) ([]inbound.Message, error)
	Inventory(ctx context.Context, f numbers.Filter) ([]numbers.Number, error)
	AddNumber(ctx context.Context, raw, country, provider string, receive, send bool) (numbers.Number, error)
	RetireNumber(ctx context.Context, e164 string) error
	ExplainInbound(ctx context.Context, provider, from, to, text string) (inbound.Explanation, error)
}

// seedFail answers in the virtual-number API's error shape.
func seedFail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"status": "error", "message": msg})
}

// pathKey authenticates the API key in the path; unauthorized is the
// seed's message for a key that fails.
func (a *api) pathKey(unauthorized string) gin.HandlerFunc {
	return func(c *gin.Context) { a.seedKey(c, c.Param("api_key"), unauthorized) }
}

// bearerSeedKey authenticates the Bearer key of the same endpoints, the
// form clients should prefer: a key in a path ends up in proxies' logs.
func (a *api) bearerSeedKey(unauthorized string) gin.HandlerFunc {
	return func(c *gin.Context) {
		scheme, raw, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			raw = ""
		}
		a.seedKey(c, strings.TrimSpace(raw), unauthorized)
	}
}

func (a *api) seedKey(c *gin.Context, raw, unauthorized string) {
	if a.o.Numbers == nil {
		seedFail(c, http.StatusInternalServerError, "System configuration error")
		return
	}
	if raw == "" {
		seedFail(c, http.StatusUnauthorized, "Missing or invalid credentials")
		return
	}
	key, err := a.o.Keys.Authenticate(c.Request.Context(), raw)
	if errors.Is(err, account.ErrUnauthorized) {
		seedFail(c, http.StatusUnauthorized, unauthorized)
		return
	}
	if err != nil {
		a.log.Error("authenticate API key", "path", c.FullPath(), "error", err)
		c.Header("Retry-After", "5")
		seedFail(c, http.StatusServiceUnavailable, "cannot check the API key right now; try again")
		return
	}
	if !key.Has(account.PermReceiveSMS) {
		seedFail(c, http.StatusForbidden, "this API key lacks the receive_sms permission")
		return
	}
	c.Set(keyContext, key)
	c.Next()
}

type seedCountry struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	PhoneCode string `json:"phone_code"`
	Code      string `json:"code"`
}

type seedOperator struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	CountryID int    `json:"country_id"`
}

func (a *api) seedInit(c *gin.Context) {
	countries, ops, err := a.o.Numbers.Catalogue(c.Request.Context())
	if err != nil {
		a.log.Error("read the number catalogue", "error", err)
		seedFail(c, http.StatusInternalServerError, "Service fetch failed")
		return
	}
	cs := make([]seedCountry, len(countries))
	for i, x := range countries {
		cs[i] = seedCountry{ID: x.ID, Name: x.Name, PhoneCode: x.PhoneCode, Code: x.Code}
	}
	os := make([]seedOperator, len(ops))
	for i, o := range ops {
		os[i] = seedOperator{ID: o.ID, Name: o.Name, CountryID: o.CountryID}
	}
	c.JSON(http.StatusOK, gin.H{"status": "success", "data": gin.H{"countries": cs, "operators": os}})
}

func (a *api) seedGetNumber(c *gin.Context) {
	country, err := strconv.Atoi(strings.TrimSpace(c.Query("country_id")))
	if err != nil {
		seedFail(c, http.StatusBadRequest, "country_id is required")
		return
	}
	operator := 0
	if v := strings.TrimSpace(c.Query("operator_id")); v != "" {
		if operator, err = strconv.Atoi(v); err != nil {
			seedFail(c, http.StatusBadRequest, fmt.Sprintf("operator_id must be a whole number, got %q", v))
			return
		}
	}
	format, err := numbers.ParseFormat(c.Query("number_format"))
	if err != nil {
		seedFail(c, http.StatusBadRequest, err.Error())
		return
	}
	n, err := a.o.Numbers.GetNumberByIDs(c.Request.Context(), apiKey(c).AccountID, country, operator)
	var in *core.NumberInputError
	var ce *account.InsufficientCreditError
	switch {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"status": "success", "data": gin.H{"phone_number": format.Apply(n.E164, numbers.PhoneCode(n.Country))}})
	case errors.As(err, &in):
		seedFail(c, http.StatusBadRequest, "country_id is required: "+in.Msg)
	case errors.Is(err, numbers.ErrNoNumber):
		seedFail(c, http.StatusNotFound, "No number received")
	case errors.As(err, &ce):
		seedFail(c, http.StatusPaymentRequired, fmt.Sprintf("Insufficient credit: a number costs %s %s and the balance is %s %s", ce.Needed, a.currency(), ce.Balance, a.currency()))
	default:
		a.log.Error("assign a number", "path", c.FullPath(), "error", err)
		seedFail(c, http.StatusInternalServerError, "Unable to get number")
	}
}

func (a *api) numbersAvailable(c *gin.Context) {
	if a.o.Numbers == nil {
		fail(c, http.StatusServiceUnavailable, "numbers are not available on this server")
		return
	}
	c.Next()
}

// numberJSON is a number as /api/v1/numbers shows it.
type numberJSON struct {
	Number     string     `json:"number"`
	Country    string     `json:"country"`
	CountryID  int        `json:"country_id"`
	Operator   string     `json:"operator,omitempty"`
	Provider   string     `json:"provider,omitempty"`
	Source     string     `json:"source,omitempty"`
	Receive    bool       `json:"receive"`
	Send       bool       `json:"send"`
	State      string     `json:"state"`
	Holder     string     `json:"holder,omitempty"`
	AssignedAt *time.Time `json:"assigned_at,omitempty"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	Charged    string     `json:"charged,omitempty"`
	Received   int        `json:"messages_received"`
}

func toNumberJSON(n numbers.Number, admin bool) numberJSON {
	out := numberJSON{Number: n.E164, Country: n.Country, CountryID: numbers.CountryID(n.Country), Operator: n.Operator,
		Receive: n.Receive, Send: n.Send, State: string(n.State), Received: n.Received}
	if !n.AssignedAt.IsZero() && n.State != numbers.Available {
		t := n.AssignedAt
		out.AssignedAt = &t
	}
	if !n.LeaseUntil.IsZero() && n.State != numbers.Available {
		t := n.LeaseUntil
		out.LeaseUntil = &t
	}
	if n.Charged != 0 {
		out.Charged = n.Charged.String()
	}
	if admin {
		out.Provider, out.Source, out.Holder = n.Provider, string(n.Source), n.Holder
	}
	return out
}

func numberList(ns []numbers.Number, admin bool) []numberJSON {
	out := make([]numberJSON, len(ns))
	for i, n := range ns {
		out[i] = toNumberJSON(n, admin)
	}
	return out
}

// numberError answers the errors of the /api/v1/numbers endpoints.
func (a *api) numberError(c *gin.Context, err error) {
	var in *core.NumberInputError
	switch {
	case errors.As(err, &in):
		fail(c, http.StatusUnprocessableEntity, in.Msg)
	case errors.Is(err, numbers.ErrNoNumber):
		fail(c, http.StatusNotFound, "No number available for that country and operator; try again later or another operator")
	case errors.Is(err, numbers.ErrNotHeld):
		fail(c, http.StatusNotFound, "Number not found among this account's numbers")
	case errors.Is(err, numbers.ErrUnknown):
		fail(c, http.StatusNotFound, "Number not found in the inventory")
	case errors.Is(err, numbers.ErrExists):
		fail(c, http.StatusConflict, "The number is already in the inventory")
	default:
		a.coreError(c, err)
	}
}

func (a *api) availableNumbers(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	ns, err := a.o.Numbers.AvailableNumbers(c.Request.Context(), c.Query("country"), c.Query("operator"), limit)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"numbers": numberList(ns, false)})
}

// pageLimit reads ?limit=, default defaultPageSize.
func pageLimit(c *gin.Context) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return defaultPageSize, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("limit must be a whole number from 1 to %d", maxPageSize))
		return 0, false
	}
	return n, true
}

type assignBody struct {
	Country  string `json:"country"`
	Operator string `json:"operator"`
	// LeaseSeconds is the lease's length; 0 for the configured one.
	LeaseSeconds int `json:"lease_seconds"`
}

func (a *api) assignNumber(c *gin.Context) {
	var body assignBody
	if !decode(c, &body) {
		return
	}
	if strings.TrimSpace(body.Country) == "" {
		fail(c, http.StatusUnprocessableEntity, "country is required: an ISO 3166 alpha-2 code such as \"US\"")
		return
	}
	n, err := a.o.Numbers.AssignNumber(c.Request.Context(), apiKey(c).AccountID, body.Country, body.Operator,
		time.Duration(body.LeaseSeconds)*time.Second)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toNumberJSON(n, false))
}

func (a *api) heldNumbers(c *gin.Context) {
	ns, err := a.o.Numbers.HeldNumbers(c.Request.Context(), apiKey(c).AccountID)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"numbers": numberList(ns, false)})
}

// pathNumber reads :number, putting back the plus a client may have
// left unencoded (a "+" in a path is a plus, but "%2B" is common too).
func pathNumber(c *gin.Context) string {
	v := strings.TrimSpace(c.Param("number"))
	if v != "" && v[0] >= '0' && v[0] <= '9' && len(v) > 8 {
		return "+" + v
	}
	return v
}

func (a *api) releaseNumber(c *gin.Context) {
	n, err := a.o.Numbers.ReleaseNumber(c.Request.Context(), apiKey(c).AccountID, pathNumber(c))
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusOK, toNumberJSON(n, false))
}

type extendBody struct {
	Seconds int `json:"seconds"`
}

func (a *api) extendNumber(c *gin.Context) {
	var body extendBody
	if !decode(c, &body) {
		return
	}
	n, err := a.o.Numbers.ExtendNumber(c.Request.Context(), apiKey(c).AccountID, pathNumber(c), time.Duration(body.Seconds)*time.Second)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusOK, toNumberJSON(n, false))
}

func (a *api) numberMessages(c *gin.Context) { a.listNumberMessages(c, apiKey(c).AccountID) }

func (a *api) adminNumberMessages(c *gin.Context) { a.listNumberMessages(c, "") }

func (a *api) listNumberMessages(c *gin.Context, accountID string) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	msgs, err := a.o.Numbers.NumberMessages(c.Request.Context(), accountID, pathNumber(c), limit)
	if err != nil {
		a.numberError(c, err)
		return
	}
	out := make([]inboundJSON, len(msgs))
	for i, m := range msgs {
		out[i] = toInboundJSON(m)
	}
	c.JSON(http.StatusOK, gin.H{"messages": out})
}

func (a *api) inventory(c *gin.Context) {
	limit, ok := pageLimit(c)
	if !ok {
		return
	}
	f := numbers.Filter{State: numbers.State(c.Query("state")), Country: strings.ToUpper(c.Query("country")),
		Operator: c.Query("operator"), Holder: c.Query("holder"), Limit: limit}
	ns, err := a.o.Numbers.Inventory(c.Request.Context(), f)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"numbers": numberList(ns, true)})
}

type addNumberBody struct {
	Number   string `json:"number"`
	Country  string `json:"country"`
	Provider string `json:"provider"`
	Receive  *bool  `json:"receive"`
	Send     bool   `json:"send"`
}

func (a *api) addNumber(c *gin.Context) {
	var body addNumberBody
	if !decode(c, &body) {
		return
	}
	receive := body.Receive == nil || *body.Receive
	n, err := a.o.Numbers.AddNumber(c.Request.Context(), body.Number, body.Country, body.Provider, receive, body.Send)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toNumberJSON(n, true))
}

func (a *api) retireNumber(c *gin.Context) {
	if err := a.o.Numbers.RetireNumber(c.Request.Context(), pathNumber(c)); err != nil {
		a.numberError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// keyInPath matches what the seed's paths carry after /api/init/ and
// /api/get-number/, and any API key elsewhere in a path.
var keyInPath = regexp.MustCompile(`(/api/(?:init|get-number)/)[^/?#]*|api_(?:live|test)_[A-Za-z0-9_-]+`)

// redactPath hides API keys in a request path before it is logged or
// echoed: "/api/init/api_live_…" becomes "/api/init/[key]".
func redactPath(p string) string {
	return keyInPath.ReplaceAllString(p, "${1}[key]")
}

// inboundExplainBody is a received message to explain.
type inboundExplainBody struct {
	From     string `json:"from"`
	To       string `json:"to"`
	Text     string `json:"text"`
	Provider string `json:"provider"`
}

// explainInbound answers what the inbound rules would decide for a
// message received now, and why, without storing anything.
func (a *api) explainInbound(c *gin.Context) {
	var b inboundExplainBody
	if !decode(c, &b) {
		return
	}
	ex, err := a.o.Numbers.ExplainInbound(c.Request.Context(), b.Provider, b.From, b.To, b.Text)
	if err != nil {
		a.numberError(c, err)
		return
	}
	c.PureJSON(http.StatusOK, ex) // rules are full of && and >
}
