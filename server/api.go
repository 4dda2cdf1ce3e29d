package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
)

// OTPs sends and verifies one-time codes; *core.Service is one.
type OTPs interface {
	SendOTP(ctx context.Context, accountID, phone string) (time.Duration, error)
	VerifyOTP(ctx context.Context, accountID, phone, code string) (bool, error)
}

// Limits of the batch endpoints.
const (
	maxStatusIDs    = 100
	defaultPageSize = 50
	maxPageSize     = 500
	maxIdemKeyLen   = 191
)

func (a *api) apiRoutes(v1, authed *gin.RouterGroup) {
	v1.GET("/openapi.json", a.openAPI)
	authed.POST("/sms/bulk", require(account.PermSendSMS), a.limitSMS, a.bulk)
	authed.DELETE("/sms/:message_id", require(account.PermSendSMS), a.cancel)
	authed.POST("/sms/status", a.statusBatch)
	authed.POST("/sms/quote", require(account.PermSendSMS), a.quote)
	authed.GET("/sms/messages", a.listMessages)
	authed.GET("/sms/messages.csv", a.exportMessages)
	authed.POST("/otp/send", require(account.PermSendOTP), a.otpSend)
	authed.POST("/otp/verify", require(account.PermVerifyOTP), a.otpVerify)
	authed.GET("/balance", a.balance)
	authed.GET("/ledger", a.ledger)
	authed.POST("/admin/accounts/:id/credit", requireSystem, a.creditAccount)
	authed.PATCH("/admin/accounts/:id", requireSystem, a.updateAccount)
	authed.GET("/sender-ids", a.senderIDs)
	authed.GET("/countries", a.countries)
	authed.GET("/operators", a.operators)
	// Account admins reach these for their own account; the handlers
	// check which account (see account.APIKey.Manages).
	authed.GET("/admin/keys", require(account.PermAccountAdmin), a.listKeys)
	authed.POST("/admin/keys", require(account.PermAccountAdmin), a.createKey)
	authed.DELETE("/admin/keys/:id", require(account.PermAccountAdmin), a.revokeKey)
}

// apiError answers the errors of limits and duplicates; false means err is
// none of them.
func (a *api) apiError(c *gin.Context, err error) bool {
	var de *message.DuplicateError
	var rl *account.RateLimitError
	var ce *account.InsufficientCreditError
	switch {
	case errors.As(err, &ce):
		a.insufficientCredit(c, ce)
	case errors.As(err, &de):
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": "Duplicate message: " + de.Error() +
			"; wait for the duplicate window to pass or change the text", "code": "duplicate_message", "message_id": de.MessageID})
	case errors.As(err, &rl):
		tooMany(c, rl.RetryAfter, fmt.Sprintf("Rate limit exceeded. Maximum %d OTP per hour for this number", rl.Limit))
	case errors.Is(err, core.ErrNoGatewayOnline):
		// The integration guide's answer, word for word.
		fail(c, http.StatusServiceUnavailable, "No gateway online")
	case errors.Is(err, core.ErrNoHealthyProvider):
		fail(c, http.StatusServiceUnavailable, "Service unavailable: no provider can send this message now; try again shortly")
	case errors.Is(err, account.ErrBadCursor):
		fail(c, http.StatusUnprocessableEntity, "cursor is not one this API returned; start again without it")
	default:
		return false
	}
	return true
}

func tooMany(c *gin.Context, retryAfter time.Duration, msg string) {
	c.Header("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(retryAfter.Seconds())))))
	fail(c, http.StatusTooManyRequests, msg)
}

// limitSMS counts the request against its key's send limit; the count is
// kept in the database, so it holds however many servers share it.
func (a *api) limitSMS(c *gin.Context) {
	key := apiKey(c)
	limit := a.o.API.SMSPerMinute
	if key.SMSPerMinute > 0 {
		limit = key.SMSPerMinute
	}
	if a.o.Accounts == nil || limit <= 0 {
		c.Next()
		return
	}
	ok, retry, err := a.o.Accounts.TakeRate(c.Request.Context(), "sms:"+key.ID, limit, time.Minute)
	if err != nil {
		a.coreError(c, err)
		return
	}
	if !ok {
		tooMany(c, retry, fmt.Sprintf("Rate limit exceeded. Maximum %d SMS per minute for this API key", limit))
		return
	}
	c.Next()
}

// idempotency reads the Idempotency-Key header. A key seen before answers
// the request here (the kept answer, or 409 for a different request) and
// returns ok=false; a new key returns what core stores with the messages.
func (a *api) idempotency(c *gin.Context, body []byte, answer func([]core.BulkResult) (int, any)) (*core.Idempotency, bool) {
	key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
	if key == "" || a.o.Accounts == nil {
		return nil, true
	}
	if len(key) > maxIdemKeyLen {
		fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("Idempotency-Key is %d characters long; the limit is %d", len(key), maxIdemKeyLen))
		return nil, false
	}
	sum := sha256.Sum256([]byte(c.Request.Method + " " + c.FullPath() + "\n" + string(body)))
	hash := hex.EncodeToString(sum[:])
	check, err := a.o.Accounts.CheckIdempotency(c.Request.Context(), apiKey(c).AccountID, key, hash)
	if err != nil {
		a.coreError(c, err)
		return nil, false
	}
	if check.Outcome != core.IdempotencyFresh {
		replay(c, check)
		return nil, false
	}
	return &core.Idempotency{Key: key, RequestHash: hash, Answer: func(r []core.BulkResult) core.Answer {
		code, v := answer(r)
		b, _ := json.Marshal(v)
		return core.Answer{Code: core.AnswerCode(code), Body: b}
	}}, true
}

// replay answers a request whose Idempotency-Key came before: with the
// kept answer, or 409 when the key came with a different request.
func replay(c *gin.Context, check core.IdempotencyCheck) {
	if check.Outcome == core.IdempotencyConflict {
		c.AbortWithStatusJSON(http.StatusConflict, gin.H{"error": "Idempotency-Key was already used with a different request; use a new key for a new request",
			"code": "idempotency_key_reused"})
		return
	}
	c.Header("Idempotent-Replayed", "true")
	c.Data(int(check.Answer.Code), "application/json; charset=utf-8", check.Answer.Body)
	c.Abort()
}

// acceptError answers a core error from an idempotent send: a concurrent
// request with the same key won the race, so its answer is the answer.
func (a *api) acceptError(c *gin.Context, err error) {
	var re *core.ReplayError
	if errors.As(err, &re) {
		replay(c, re.Check)
		return
	}
	a.coreError(c, err)
}

type bulkBody struct {
	To          []string `json:"to"`
	Message     string   `json:"message"`
	From        string   `json:"from"`
	CallbackURL string   `json:"callback_url"`
	labels
	scheduling
}

type bulkResult struct {
	To        string         `json:"to"`
	MessageID string         `json:"message_id,omitempty"`
	Status    message.Status `json:"status"`
	Error     string         `json:"error,omitempty"`
}

func bulkAnswer(results []core.BulkResult) gin.H {
	out := make([]bulkResult, len(results))
	queued := 0
	for i, r := range results {
		out[i] = bulkResult{To: r.To, MessageID: r.MessageID, Status: r.Status, Error: r.Error}
		if r.Error == "" {
			queued++
		}
	}
	return gin.H{"success": queued > 0, "queued": queued, "rejected": len(results) - queued, "results": out}
}

func (a *api) bulk(c *gin.Context) {
	var b bulkBody
	raw, ok := decodeBody(c, &b)
	if !ok {
		return
	}
	req := core.SendRequest{Message: b.Message, From: b.From, CallbackURL: b.CallbackURL, Kind: b.Kind, Tags: b.Tags}
	if !b.schedule(c, &req) {
		return
	}
	idem, ok := a.idempotency(c, raw, func(r []core.BulkResult) (int, any) { return http.StatusAccepted, bulkAnswer(r) })
	if !ok {
		return
	}
	req.Idempotency = idem
	results, err := a.o.Messages.SendBulk(c.Request.Context(), apiKey(c).AccountID, b.To, req)
	if err != nil {
		a.acceptError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, bulkAnswer(results))
}

type statusBatchBody struct {
	IDs []string `json:"ids"`
}

func (a *api) statusBatch(c *gin.Context) {
	var b statusBatchBody
	if !decode(c, &b) {
		return
	}
	switch {
	case len(b.IDs) == 0:
		fail(c, http.StatusUnprocessableEntity, "ids is required: a list of message ids")
		return
	case len(b.IDs) > maxStatusIDs:
		fail(c, http.StatusUnprocessableEntity, fmt.Sprintf("ids has %d entries; the limit is %d per request", len(b.IDs), maxStatusIDs))
		return
	}
	msgs, err := a.o.Messages.Messages(c.Request.Context(), apiKey(c).AccountID, b.IDs)
	if err != nil {
		a.coreError(c, err)
		return
	}
	byID := make(map[string]message.View, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m
	}
	out := make([]gin.H, 0, len(b.IDs))
	for _, id := range b.IDs {
		m, ok := byID[id]
		if !ok {
			out = append(out, gin.H{"message_id": id, "error": "Message not found"})
			continue
		}
		out = append(out, messageJSON(m))
	}
	c.JSON(http.StatusOK, gin.H{"messages": out})
}

func messageJSON(m message.View) gin.H {
	var errMsg *string
	if m.ErrorMessage != "" {
		errMsg = &m.ErrorMessage
	}
	var errCode *string
	if m.ErrorCode != "" {
		errCode = &m.ErrorCode
	}
	return gin.H{"message_id": m.ID, "status": m.Status, "to": m.Recipient, "from": m.Sender, "segments": m.Segments,
		"created_at": utc(&m.CreatedAt), "sent_at": utc(m.SentAt), "delivered_at": utc(m.DeliveredAt),
		"failed_at": utc(m.FailedAt), "error_message": errMsg, "error_code": errCode,
		"send_at": utc(m.SendAt), "expires_at": utc(&m.ExpiresAt), "provider_status_at": utc(m.ProviderStatusAt)}
}

type otpBody struct {
	PhoneNumber string `json:"phone_number"`
	Code        string `json:"code"`
}

func (a *api) otpSend(c *gin.Context) {
	var b otpBody
	if !decode(c, &b) {
		return
	}
	if a.o.OTP == nil {
		fail(c, http.StatusServiceUnavailable, "OTP is not available on this server")
		return
	}
	if strings.TrimSpace(b.PhoneNumber) == "" {
		fail(c, http.StatusUnprocessableEntity, "phone_number is required: the number in international format, e.g. +959123456789")
		return
	}
	ttl, err := a.o.OTP.SendOTP(c.Request.Context(), apiKey(c).AccountID, b.PhoneNumber)
	if err != nil {
		a.coreError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "message": "OTP sent successfully", "expires_in": int(ttl.Seconds())})
}

func (a *api) otpVerify(c *gin.Context) {
	var b otpBody
	if !decode(c, &b) {
		return
	}
	if a.o.OTP == nil {
		fail(c, http.StatusServiceUnavailable, "OTP is not available on this server")
		return
	}
	if strings.TrimSpace(b.PhoneNumber) == "" || strings.TrimSpace(b.Code) == "" {
		fail(c, http.StatusUnprocessableEntity, "phone_number and code are required")
		return
	}
	ok, err := a.o.OTP.VerifyOTP(c.Request.Context(), apiKey(c).AccountID, b.PhoneNumber, strings.TrimSpace(b.Code))
	if err != nil {
		a.coreError(c, err)
		return
	}
	if !ok {
		fail(c, http.StatusUnprocessableEntity, "Invalid or expired OTP")
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "message": "OTP verified successfully"})
}
