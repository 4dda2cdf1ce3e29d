package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/hook"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server/console"
)

// Messages is the part of core the message endpoints use.
type Messages interface {
	Send(ctx context.Context, accountID string, req core.SendRequest) (message.View, error)
	Message(ctx context.Context, accountID, id string) (message.View, error)
	SendBulk(ctx context.Context, accountID string, to []string, req core.SendRequest) ([]core.BulkResult, error)
	Messages(ctx context.Context, accountID string, ids []string) ([]message.View, error)
	ListMessages(ctx context.Context, accountID string, f message.Filter) ([]message.Summary, string, error)
	ExportMessages(ctx context.Context, accountID string, f message.Filter, max int,
		start func(next string) error, each func(message.Summary) error) error
	AllowedSenders(ctx context.Context, accountID string) ([]string, bool, error)
	Cancel(ctx context.Context, accountID, id string) (message.View, error)
	Quote(ctx context.Context, accountID string, to []string, req core.SendRequest) (core.Quote, error)
	MessageDetail(ctx context.Context, caller account.APIKey, id string) (message.Detail, []outbox.Logged, error)
	Overview(ctx context.Context, caller account.APIKey, accountID string, minutes int) (core.Overview, error)
}

// Keys authenticates API keys.
type Keys interface {
	Authenticate(ctx context.Context, raw string) (account.APIKey, error)
}

// Accounts is the part of core the rate limits, idempotency keys and the
// account, key, credit, webhook and inbound endpoints use; *core.Service is
// one.
type Accounts interface {
	// Ready returns why the database does not answer, or nil.
	Ready(ctx context.Context) error
	// Unavailable reports whether err means the database could not be
	// reached: the same request may succeed shortly.
	Unavailable(err error) bool

	TakeRate(ctx context.Context, bucket string, limit int, window time.Duration) (bool, time.Duration, error)
	CheckIdempotency(ctx context.Context, accountID, key, requestHash string) (core.IdempotencyCheck, error)

	Account(ctx context.Context, id string) (account.Account, error)
	SetMessageBodies(ctx context.Context, accountID string, p account.MessageBodies) (account.Account, error)
	Ledger(ctx context.Context, accountID string, p account.LedgerPage) ([]account.LedgerEntry, string, error)
	AddCredit(ctx context.Context, accountID string, amount money.Amount, reason string) (account.LedgerEntry, error)

	APIKeys(ctx context.Context, caller account.APIKey, accountID string) ([]account.APIKey, error)
	CreateAPIKey(ctx context.Context, caller account.APIKey, k core.NewAPIKey) (string, account.APIKey, error)
	RevokeAPIKey(ctx context.Context, caller account.APIKey, id string) error

	Webhook(ctx context.Context, accountID string) (account.Webhook, error)
	SetWebhook(ctx context.Context, accountID, url string, rotate bool) (account.Webhook, string, error)
	DeleteWebhook(ctx context.Context, accountID string) error
	MessageWebhooks(ctx context.Context, accountID, messageID string) ([]outbox.Logged, error)

	Inbound(ctx context.Context, accountID string, f inbound.Filter) ([]inbound.Message, string, error)
	InboundMessage(ctx context.Context, accountID, id string) (inbound.Message, error)
}

// WebhookTests sends an account's webhook a test event; *core.Service is
// one.
type WebhookTests interface {
	TestWebhook(ctx context.Context, accountID string) (core.WebhookTest, error)
}

// ProviderStates reports the state of every configured provider.
type ProviderStates interface {
	Statuses() []pluginhost.ProviderStatus
}

// Options are what the API needs to run.
type Options struct {
	// NoConsole leaves out the web console at /console.
	NoConsole bool
	// ConsoleSecureCookies marks the console's session cookie Secure on
	// plain HTTP too: set it behind a TLS-terminating proxy.
	ConsoleSecureCookies bool
	Logger               hclog.Logger
	Messages             Messages
	Keys                 Keys
	Hooks                core.HookHost
	Events               core.EventStore
	// Providers reports the plugin processes' state to admin keys.
	Providers ProviderStates
	// Controls revokes devices and tunes providers for admin keys; nil
	// answers those endpoints 503.
	Controls ProviderControls
	// ProviderLimits returns the TPS and concurrency limits the dispatcher
	// applies, by provider name; nil shows none.
	ProviderLimits func() map[string]config.Limits
	// PublicURL is the scheme and host providers use to reach us; hook
	// signatures are computed over it. Empty means "as the request says".
	PublicURL string
	// MaxHookBody caps a provider hook's body (default 1 MiB).
	MaxHookBody int64
	// Routes explains routing decisions to admin keys; nil disables
	// POST /api/v1/admin/route/explain.
	Routes RouteExplainer
	// Reload re-reads the configuration and swaps the routing table; nil
	// disables POST /api/v1/admin/reload.
	Reload func(ctx context.Context) error
	// OTP sends and verifies one-time codes; nil answers /otp/* with 503.
	OTP OTPs
	// Accounts backs the rate limits, idempotency keys, account credit,
	// admin key, webhook and inbound endpoints; nil switches the limits off
	// and answers those endpoints with 503.
	Accounts Accounts
	// API holds the configured limits, senders and credit defaults; nil
	// means the defaults.
	API *config.API
	// Table returns the routing table in use, for the catalogue endpoints.
	Table func() *routing.Table
	// Plugins lets /sender-ids ask providers for their senders.
	Plugins Plugins
	// Requests, when set, is told of every request, by route template.
	Requests RequestObserver
	// Metrics, when set, is served at GET /metrics without an API key (it
	// guards itself when configured to; see core/metrics).
	Metrics http.Handler
	// Egress says which addresses a webhook URL may point to; nil means
	// public addresses only. The webhook deliverer should use the same.
	Egress *egress.Policy
	// Numbers leases numbers to receive on; nil answers the number
	// endpoints with 503 (500 on the virtual-number API's).
	Numbers Numbers
	// WebhookTests sends test events (POST /api/v1/webhook/test); nil
	// answers 503.
	WebhookTests WebhookTests
}

// New returns the HTTP handler of the whole API.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.MaxHookBody <= 0 {
		o.MaxHookBody = 1 << 20
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if o.API == nil {
		def := config.DefaultAPI()
		o.API = &def
	}
	a := &api{o: o, log: o.Logger.Named("http"), senders: map[string]senderCache{}}
	if o.Requests != nil {
		// First, so that it sees the status recover writes for a panic.
		r.Use(observeRequests(o.Requests))
	}
	r.Use(a.recover, a.logRequests, limitHeaders)
	r.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusNotFound, "no such endpoint: "+c.Request.Method+" "+redactPath(c.Request.URL.Path))
	})
	a.unrouted = noMethod(r)
	r.NoMethod(a.unrouted)

	r.GET("/up", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/ready", a.ready)
	if o.Metrics != nil {
		r.GET("/metrics", gin.WrapH(o.Metrics))
	}
	if !o.NoConsole {
		// The console calls this same engine with the signed-in key.
		pages := gin.WrapH(console.New(console.Options{API: r, SecureCookies: o.ConsoleSecureCookies, Logger: o.Logger.Named("console")}))
		for _, path := range []string{console.Prefix, console.Prefix + "/*page"} {
			r.GET(path, pages)
			r.POST(path, pages)
		}
	}
	v1 := r.Group("/api/v1")
	v1.Any("/providers/:name/hooks/*path", a.hook)
	authed := v1.Group("", a.authenticate, checkInput)
	authed.POST("/sms/send", require(account.PermSendSMS), a.limitSMS, a.send)
	authed.GET("/sms/status/:message_id", a.status)
	authed.GET("/sms/:message_id", a.messageDetail)
	authed.GET("/admin/providers", requireSystem, a.providers)
	authed.GET("/admin/overview", require(account.PermAccountAdmin), a.overview)
	a.routeAdmin(authed)
	a.apiRoutes(v1, authed)
	a.webhookRoutes(authed)
	a.inboundRoutes(authed)
	a.numberRoutes(r, authed)
	a.outboxRoutes(authed)
	a.deviceRoutes(authed)
	return r
}

type api struct {
	o   Options
	log hclog.Logger

	sendersMu sync.Mutex
	senders   map[string]senderCache

	// unrouted answers a path no route serves (404), or serves with other
	// methods (405 with Allow).
	unrouted gin.HandlerFunc
}

// fail writes the guide's error shape, {"error": "..."}.
func fail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

func (a *api) recover(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			a.log.Error("panic while serving request", "method", c.Request.Method, "path", redactPath(c.Request.URL.Path), "panic", fmt.Sprint(v))
			fail(c, http.StatusInternalServerError, "internal error; the server log has details")
		}
	}()
	c.Next()
}

func (a *api) logRequests(c *gin.Context) {
	if !a.log.IsDebug() {
		// The line would be dropped, after its fields were boxed for it.
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	a.log.Debug("request", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(), "took", time.Since(start))
}

const keyContext = "smsrouter.apikey"

func (a *api) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	// The scheme is case-insensitive (RFC 7235): "bearer" is "Bearer".
	scheme, raw, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		fail(c, http.StatusUnauthorized, "Unauthorized: send your API key as 'Authorization: Bearer api_live_...'")
		return
	}
	key, err := a.o.Keys.Authenticate(c.Request.Context(), strings.TrimSpace(raw))
	if err != nil {
		if errors.Is(err, account.ErrUnauthorized) {
			fail(c, http.StatusUnauthorized, "Unauthorized: invalid or revoked API key")
			return
		}
		a.log.Error("authenticate API key", "error", err)
		c.Header("Retry-After", "5")
		fail(c, http.StatusServiceUnavailable, "cannot check the API key right now; try again")
		return
	}
	c.Set(keyContext, key)
	c.Next()
}

func apiKey(c *gin.Context) account.APIKey {
	k, _ := c.Get(keyContext)
	key, _ := k.(account.APIKey)
	return key
}

func require(perm string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !apiKey(c).Has(perm) {
			fail(c, http.StatusForbidden, fmt.Sprintf("this API key lacks the %s permission", perm))
			return
		}
		c.Next()
	}
}

// requireSystem guards what reaches beyond one account: other accounts,
// providers, routing.
func requireSystem(c *gin.Context) {
	if !apiKey(c).Has(account.PermSystemAdmin) {
		fail(c, http.StatusForbidden, fmt.Sprintf("this API key lacks the %s permission: %s acts on the whole installation, and an %s key manages only its own account's keys",
			account.PermSystemAdmin, c.FullPath(), account.PermAccountAdmin))
		return
	}
	c.Next()
}

// decode reads a JSON object body into v, answering 422 with the reason when
// it cannot.
func decode(c *gin.Context, v any) bool {
	_, ok := decodeBody(c, v)
	return ok
}

// decodeBody is decode that also returns the body read.
func decodeBody(c *gin.Context, v any) ([]byte, bool) {
	if ct := c.ContentType(); ct != "" && ct != "application/json" {
		fail(c, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type must be application/json, not %s", ct))
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	if err != nil {
		bodyError(c, err, "request body is larger than 1 MiB")
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		fail(c, http.StatusUnprocessableEntity, "request body is empty; send a JSON object")
		return nil, false
	}
	if !decodeJSON(c, body, v) {
		return nil, false
	}
	return body, true
}

type sendBody struct {
	To      string `json:"to"`
	Message string `json:"message"`
	From    string `json:"from"`
	// CallbackURL receives this message's webhooks instead of the
	// account's webhook URL.
	CallbackURL string `json:"callback_url"`
	labels
	scheduling
}

func (a *api) send(c *gin.Context) {
	var b sendBody
	raw, ok := decodeBody(c, &b)
	if !ok {
		return
	}
	var sched core.SendRequest
	if !b.schedule(c, &sched) {
		return
	}
	idem, ok := a.idempotency(c, raw, func(r []core.BulkResult) (int, any) {
		return http.StatusAccepted, sendAnswer(r[0].MessageID, r[0].Status)
	})
	if !ok {
		return
	}
	m, err := a.o.Messages.Send(c.Request.Context(), apiKey(c).AccountID, core.SendRequest{To: b.To, Message: b.Message, From: b.From, Idempotency: idem,
		SendAt: sched.SendAt, Validity: sched.Validity, CallbackURL: b.CallbackURL, Kind: b.Kind, Tags: b.Tags})
	if err != nil {
		a.acceptError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, sendAnswer(m.ID, m.Status))
}

// sendAnswerBody is a send's answer. Its fields are in the order
// encoding/json writes a map's keys, so it writes the bytes the gin.H it
// replaced did, without building and sorting a map per request.
type sendAnswerBody struct {
	MessageID string         `json:"message_id"`
	Status    message.Status `json:"status"`
	Success   bool           `json:"success"`
}

func sendAnswer(id string, status message.Status) sendAnswerBody {
	return sendAnswerBody{MessageID: id, Status: status, Success: true}
}

type statusBody struct {
	MessageID    string         `json:"message_id"`
	Status       message.Status `json:"status"`
	SentAt       *time.Time     `json:"sent_at"`
	DeliveredAt  *time.Time     `json:"delivered_at"`
	FailedAt     *time.Time     `json:"failed_at"`
	ErrorMessage *string        `json:"error_message"`
	// SendAt is the scheduled send time, when the message was scheduled.
	SendAt *time.Time `json:"send_at,omitempty"`
	// ProviderStatusAt is when the provider says the status in its last
	// report was reached, by its own clock; the other times are when
	// smsrouter learnt of each status.
	ProviderStatusAt *time.Time `json:"provider_status_at"`
}

func (a *api) status(c *gin.Context) {
	m, err := a.o.Messages.Message(c.Request.Context(), apiKey(c).AccountID, c.Param("message_id"))
	if err != nil {
		a.coreError(c, err)
		return
	}
	b := statusBody{MessageID: m.ID, Status: m.Status, SentAt: utc(m.SentAt), DeliveredAt: utc(m.DeliveredAt), FailedAt: utc(m.FailedAt),
		SendAt: utc(m.SendAt), ProviderStatusAt: utc(m.ProviderStatusAt)}
	if m.ErrorMessage != "" {
		b.ErrorMessage = &m.ErrorMessage
	}
	c.JSON(http.StatusOK, b)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}

func (a *api) coreError(c *gin.Context, err error) {
	var in *core.InputError
	var nr *routing.NoRouteError
	switch {
	case errors.As(err, &in):
		fail(c, http.StatusUnprocessableEntity, in.Msg)
	case errors.As(err, &nr):
		fail(c, http.StatusUnprocessableEntity, nr.Error())
	case errors.Is(err, core.ErrNotFound):
		fail(c, http.StatusNotFound, "Message not found")
	case a.apiError(c, err):
	case errors.Is(err, context.Canceled):
		c.Abort()
	case a.o.Accounts != nil && a.o.Accounts.Unavailable(err):
		a.unavailable(c, err)
	default:
		a.log.Error("request failed", "path", c.FullPath(), "error", err)
		fail(c, http.StatusInternalServerError, "internal error; the server log has details")
	}
}

func (a *api) hook(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, a.o.MaxHookBody))
	if err != nil {
		bodyError(c, err, fmt.Sprintf("hook body is larger than %d bytes", a.o.MaxHookBody))
		return
	}
	req := &hook.Request{Method: c.Request.Method, URL: a.originalURL(c.Request), Path: c.Param("path"),
		Header: hook.Header(c.Request.Header.Clone()), Body: body, RemoteAddr: c.Request.RemoteAddr}
	name := c.Param("name")
	if strings.Contains(c.GetHeader("Accept"), "text/event-stream") {
		// A provider's event stream (phones holding SSE open) outlives
		// write_timeout by design; its keep-alives, not a deadline, find
		// a peer that went away.
		_ = http.NewResponseController(c.Writer).SetWriteDeadline(time.Time{})
	}
	err = core.ServeHook(c.Request.Context(), a.o.Hooks, a.o.Events, name, req, hookAnswer{c.Writer})
	var he *core.HookError
	if errors.As(err, &he) {
		hookError(c.Writer, he)
		err = he.Err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		a.log.Warn("provider hook failed", "provider", name, "path", req.Path, "error", err)
	}
	c.Abort()
}

// hookAnswer is the HTTP response to a hook request, as core relays the
// provider's answer to it.
type hookAnswer struct{ w http.ResponseWriter }

func (a hookAnswer) Start(status int, header hook.Header) {
	for k, v := range header {
		a.w.Header()[k] = v
	}
	a.w.WriteHeader(status)
}

func (a hookAnswer) Write(p []byte) (int, error) { return a.w.Write(p) }

// Flush sends what was written, which a phone holding an event stream
// open waits for.
func (a hookAnswer) Flush() {
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
}

// hookError answers a hook request its provider did not answer.
func hookError(w http.ResponseWriter, e *core.HookError) {
	status, msg := http.StatusBadGateway, fmt.Sprintf("provider %s could not handle the request: %v", e.Provider, e.Err)
	switch e.Failure {
	case core.HookUnknownProvider:
		status, msg = http.StatusNotFound, fmt.Sprintf("no provider named %q", e.Provider)
	case core.HookUnsupported:
		status, msg = http.StatusNotFound, fmt.Sprintf("provider %s does not take HTTP hooks", e.Provider)
	case core.HookUnavailable:
		status, msg = http.StatusServiceUnavailable, fmt.Sprintf("provider %s is unavailable, try again: %v", e.Provider, e.Err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	// An encoder, not gin's renderer: hook answers have always ended with
	// a newline.
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// originalURL rebuilds the URL the provider called, which signature schemes
// (Twilio's) sign.
func (a *api) originalURL(r *http.Request) string {
	if a.o.PublicURL != "" {
		return strings.TrimRight(a.o.PublicURL, "/") + r.URL.RequestURI()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

func (a *api) providers(c *gin.Context) {
	var list []pluginhost.ProviderStatus
	if a.o.Providers != nil {
		list = a.o.Providers.Statuses()
	}
	var limits map[string]config.Limits
	if a.o.ProviderLimits != nil {
		limits = a.o.ProviderLimits()
	}
	out := make([]providerJSON, len(list))
	for i, p := range list {
		out[i] = statusJSON(p, limits[p.Name])
	}
	c.JSON(http.StatusOK, gin.H{"providers": out})
}
