package twilio

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// Version is the twilio plugin's version, reported in Info.
const Version = "1.0.0"

const (
	// apiVersion is the REST API path prefix Twilio-compatible APIs share.
	apiVersion = "2010-04-01"
	// maxResponseBody bounds how much of an API answer is read; Twilio's
	// answers are a few KiB.
	maxResponseBody = 1 << 20
	// defaultRetryAfter is what a throttled or failing upstream that gave no
	// Retry-After is given before the next try.
	defaultRetryAfter = time.Second
	// maxRetryAfter caps an upstream's Retry-After so a bogus header cannot
	// park messages for days.
	maxRetryAfter = 10 * time.Minute
)

var (
	_ sdk.Provider        = (*Provider)(nil)
	_ sdk.HookHandler     = (*Provider)(nil)
	_ sdk.HealthChecker   = (*Provider)(nil)
	_ sdk.BalanceReporter = (*Provider)(nil)
	_ sdk.StatusQuerier   = (*Provider)(nil)
)

var (
	errNotConfigured = errors.New("twilio provider is not configured: Configure must be called first")
	errClosed        = errors.New("twilio provider is closed")
)

// Provider sends through a Twilio-compatible REST API and handles its
// callbacks. The zero value is not usable; call New.
type Provider struct {
	maxBatch atomic.Int64 // read by Info without the lock

	mu         sync.Mutex
	cfg        settings
	configured bool
	closed     bool
	name       string
	hookURL    string
	logger     hclog.Logger
	client     *http.Client
	// authRefused remembers that the upstream refused our credentials, so
	// the operator gets one error when it starts and one note when it ends,
	// not one per message.
	authRefused bool
}

// New returns an unconfigured provider.
func New() *Provider {
	p := &Provider{logger: hclog.NewNullLogger()}
	p.maxBatch.Store(defaultMaxBatchSize)
	return p
}

// Info describes the twilio plugin.
func (p *Provider) Info() sdk.Info {
	return sdk.Info{Name: "twilio", Version: Version, MaxBatchSize: int(p.maxBatch.Load())}
}

// Configure checks the settings described in the package documentation. It
// makes no request upstream, so a provider can be configured while the
// upstream is down; Health tells whether it is reachable.
func (p *Provider) Configure(ctx context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return fmt.Errorf("configure twilio provider %q: %w", cfg.Name, err)
	}
	logger := cfg.Log()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	if s.hookAuth == hookAuthSharedSecret {
		s.callbackToken = sdk.Secret(CallbackToken(s.hookSecret.Reveal(), cfg.Name))
	}
	p.cfg = s
	p.configured = true
	p.name = cfg.Name
	p.hookURL = strings.TrimRight(cfg.HookURL, "/")
	p.logger = logger
	// One client per provider: its connection pool is this account's, and
	// its timeout bounds every request even if a caller's context does not.
	// A transport of its own, too, so Close can drop its idle connections
	// without touching anyone else's.
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
	p.client = &http.Client{Timeout: s.requestTimeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	p.maxBatch.Store(int64(s.maxBatchSize))

	logger.Info("twilio provider configured", "base_url", s.baseURL, "account_sid", s.accountSID,
		"from", s.from, "messaging_service_sid", s.messagingServiceSID, "hook_url", p.hookURL,
		"hook_auth", s.hookAuth, "max_batch_size", s.maxBatchSize, "max_concurrency", s.maxConcurrency)
	if s.hookAuth == hookAuthNone {
		logger.Warn("callback authentication is off (hook_auth = \"none\"): anyone who can reach the hook URL can change message statuses and inject inbound messages")
	}
	if p.hookURL == "" {
		logger.Warn("no hook URL from the host: messages are sent without StatusCallback, so no delivery reports will arrive")
	}
	if s.from == "" && s.messagingServiceSID == "" {
		logger.Warn("neither from nor messaging_service_sid is set: messages without a sender will be refused")
	}
	return nil
}

// state returns what a request needs, or why there can be none.
func (p *Provider) state() (settings, *http.Client, string, hclog.Logger, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return settings{}, nil, "", nil, errClosed
	case !p.configured:
		return settings{}, nil, "", nil, errNotConfigured
	}
	return p.cfg, p.client, p.hookURL, p.logger, nil
}

// noteAuth records whether the upstream accepted our credentials.
func (p *Provider) noteAuth(status int, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case status == http.StatusUnauthorized && !p.authRefused:
		p.authRefused = true
		p.logger.Error("upstream refused the credentials; check account_sid and auth_token", "detail", detail)
	case status > 0 && status < 400 && p.authRefused:
		p.authRefused = false
		p.logger.Info("upstream accepts the credentials again")
	}
}

// Send submits each message as one API request, at most max_concurrency at a
// time, and returns the results in message order.
func (p *Provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	cfg, client, hookURL, logger, err := p.state()
	if err != nil {
		return nil, err
	}
	if len(msgs) > cfg.maxBatchSize {
		return nil, fmt.Errorf("twilio send: batch of %d messages exceeds max_batch_size %d", len(msgs), cfg.maxBatchSize)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("twilio send: %w", err)
	}
	results := make([]sdk.SendResult, len(msgs))
	sem := make(chan struct{}, cfg.maxConcurrency)
	var wg sync.WaitGroup
	for i, m := range msgs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			// Not started: the host may retry these anywhere.
			results[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Temporary, Code: "CANCELLED",
				Reason: "send cancelled before the request was made: " + ctx.Err().Error()}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = p.sendOne(ctx, cfg, client, hookURL, logger, m)
		})
	}
	wg.Wait()
	return results, nil
}

// apiError is the JSON error document Twilio-compatible APIs answer with.
type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// messageResource is the part of a Message resource we use.
type messageResource struct {
	SID          string          `json:"sid"`
	From         string          `json:"from"`
	Status       string          `json:"status"`
	ErrorCode    json.RawMessage `json:"error_code"`
	ErrorMessage *string         `json:"error_message"`
	DateUpdated  string          `json:"date_updated"`
}

// permanentCodes are Twilio error codes that no retry, here or elsewhere
// with the same message, will fix.
var permanentCodes = map[int]string{
	21211: "invalid To number",
	21214: "To number cannot be reached",
	21217: "To number is not a valid phone number",
	21212: "invalid From number",
	21606: "From number cannot send SMS",
	21408: "sending to this region is not enabled on the account",
	21602: "message body is required",
	21610: "recipient has unsubscribed (replied STOP)",
	21612: "cannot route to this number from this sender",
	21614: "To number is not a mobile number",
	21617: "message body exceeds the length limit",
	21660: "From number does not belong to the account",
}

// refusals classify permanentCodes for failover_on (see sdk.Refusal);
// codes not listed are sdk.RefusalRejected.
var refusals = map[int]sdk.Refusal{
	21211: sdk.RefusalInvalidDestination, 21214: sdk.RefusalInvalidDestination, 21217: sdk.RefusalInvalidDestination,
	21408: sdk.RefusalInvalidDestination, 21614: sdk.RefusalInvalidDestination,
	21212: sdk.RefusalInvalidSender, 21606: sdk.RefusalInvalidSender, 21612: sdk.RefusalInvalidSender, 21660: sdk.RefusalInvalidSender,
	21602: sdk.RefusalInvalidMessage, 21617: sdk.RefusalInvalidMessage,
	21610: sdk.RefusalBlocked,
}

// temporaryCodes are Twilio error codes that a later try may get past.
var temporaryCodes = map[int]string{
	20429: "too many requests",
	21611: "the sender's queue is full (over 10 hours of backlog)",
	30001: "queue overflow",
}

// statusCallback is the URL reports for a message are posted to. Under
// hook_auth = "shared_secret" it carries the provider's callback token, so
// a gateway posting back to it unchanged authenticates.
func statusCallback(cfg settings, hookURL string) string {
	if cfg.hookAuth != hookAuthSharedSecret {
		return hookURL + pathStatus
	}
	return hookURL + pathStatus + "?" + url.Values{"token": {cfg.callbackToken.Reveal()}}.Encode()
}

func (p *Provider) sendOne(ctx context.Context, cfg settings, client *http.Client, hookURL string, logger hclog.Logger, m sdk.Message) sdk.SendResult {
	res := sdk.SendResult{MessageID: m.ID}
	// Checked here, not when Send was called: a message of a batch may
	// wait for a free request slot.
	validity, ok := validitySeconds(cfg.validityPeriod, m.ValidUntil, time.Now())
	if !ok {
		return sdk.Expired(m.ID, "validity period passed before the request was made")
	}
	form := url.Values{"To": {m.To}, "Body": {m.Text}}
	from := m.From
	if from == "" {
		from = cfg.from
	}
	if from != "" {
		form.Set("From", from)
	}
	if cfg.messagingServiceSID != "" {
		form.Set("MessagingServiceSid", cfg.messagingServiceSID)
	}
	if from == "" && cfg.messagingServiceSID == "" {
		res.Outcome, res.Code, res.Refusal = sdk.Permanent, "NO_SENDER", sdk.RefusalInvalidSender
		res.Reason = "message has no sender and neither from nor messaging_service_sid is configured"
		return res
	}
	if hookURL != "" {
		form.Set("StatusCallback", statusCallback(cfg, hookURL))
	}
	if validity > 0 {
		form.Set("ValidityPeriod", strconv.Itoa(validity))
	}

	status, header, body, err := p.do(ctx, cfg, client, http.MethodPost, "/Messages.json", form)
	if err != nil {
		res.Outcome, res.Code = sdk.Temporary, "TRANSPORT"
		res.Reason = transportReason(ctx, err)
		logger.Warn("send request failed", "message_id", m.ID, "error", err)
		return res
	}
	if status >= 200 && status < 300 {
		var mr messageResource
		if err := json.Unmarshal(body, &mr); err != nil || mr.SID == "" {
			// The upstream probably took it; a retry may duplicate it.
			res.Outcome, res.Code = sdk.Temporary, strconv.Itoa(status)
			res.Reason = fmt.Sprintf("upstream answered HTTP %d without a message sid (%s); the message may have been sent, a retry may duplicate it", status, snippet(body))
			logger.Error("malformed send answer", "message_id", m.ID, "status", status, "body", snippet(body))
			return res
		}
		res.Outcome, res.Code, res.ProviderMessageID = sdk.Accepted, strconv.Itoa(status), mr.SID
		if m.From == "" {
			// The sender the upstream chose (a messaging service's number),
			// else our configured default.
			res.Sender = cmp.Or(mr.From, from)
		}
		return res
	}
	return classifyError(status, header, body)(res)
}

// classifyError maps a non-2xx answer to a result filler.
func classifyError(status int, header http.Header, body []byte) func(sdk.SendResult) sdk.SendResult {
	var ae apiError
	_ = json.Unmarshal(body, &ae)
	detail := ae.Message
	if detail == "" {
		detail = snippet(body)
	}
	code := strconv.Itoa(status)
	if ae.Code != 0 {
		code = strconv.Itoa(ae.Code)
	}
	return func(res sdk.SendResult) sdk.SendResult {
		res.Code = code
		switch {
		case status == http.StatusUnauthorized || ae.Code == 20003:
			res.Outcome, res.Refusal = sdk.OutcomeAccountError, sdk.RefusalUnauthorized
			res.Reason = fmt.Sprintf("upstream refused the credentials (HTTP %d): check account_sid and auth_token: %s", status, detail)
		case status == http.StatusTooManyRequests || temporaryCodes[ae.Code] != "" || status >= 500:
			res.Outcome = sdk.Temporary
			if status >= 500 && temporaryCodes[ae.Code] == "" {
				res.Outcome = sdk.OutcomeUnavailable // the upstream, not the message
			}
			res.RetryAfter = retryAfter(header)
			what := temporaryCodes[ae.Code]
			if what == "" {
				what = http.StatusText(status)
			}
			res.Reason = fmt.Sprintf("upstream answered HTTP %d, %s; retry later: %s", status, what, detail)
		case permanentCodes[ae.Code] != "":
			res.Outcome, res.Refusal = sdk.Permanent, refusals[ae.Code]
			res.Reason = fmt.Sprintf("%s (error %d): %s", permanentCodes[ae.Code], ae.Code, detail)
		default:
			res.Outcome = sdk.Permanent
			res.Reason = fmt.Sprintf("upstream refused the message with HTTP %d: %s", status, detail)
		}
		return res
	}
}

// retryAfter reads Retry-After, capped, or the default wait without one.
func retryAfter(h http.Header) time.Duration {
	if d, ok := sdk.ParseRetryAfter(h.Get("Retry-After"), time.Now()); ok {
		return min(d, maxRetryAfter)
	}
	return defaultRetryAfter
}

func transportReason(ctx context.Context, err error) string {
	var ue *url.Error
	switch {
	case ctx.Err() != nil:
		return "send cancelled while the request was in flight; the upstream may have taken the message: " + ctx.Err().Error()
	case errors.As(err, &ue) && ue.Timeout():
		return "upstream did not answer in time; the message may have been sent, a retry may duplicate it: " + err.Error()
	}
	return "upstream unreachable: " + err.Error()
}

// snippet shortens an answer body for reasons and logs.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "empty body"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// do makes one authenticated request to the account's resource at path
// (relative to /2010-04-01/Accounts/{sid}). It returns an error only when no
// HTTP answer arrived.
func (p *Provider) do(ctx context.Context, cfg settings, client *http.Client, method, path string, form url.Values) (int, http.Header, []byte, error) {
	u := cfg.baseURL + "/" + apiVersion + "/Accounts/" + url.PathEscape(cfg.accountSID) + path
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request %s %s: %w", method, u, err)
	}
	req.SetBasicAuth(cfg.accountSID, cfg.authToken.Reveal())
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer to %s %s (HTTP %d): %w", method, u, resp.StatusCode, err)
	}
	p.noteAuth(resp.StatusCode, fmt.Sprintf("HTTP %d from %s %s: %s", resp.StatusCode, method, path, snippet(b)))
	return resp.StatusCode, resp.Header, b, nil
}

// Health asks the upstream for the account resource, which needs working
// credentials and nothing else.
func (p *Provider) Health(ctx context.Context) (sdk.Health, error) {
	cfg, client, _, _, err := p.state()
	if err != nil {
		return sdk.Health{OK: false, Detail: err.Error()}, nil
	}
	status, _, body, err := p.do(ctx, cfg, client, http.MethodGet, ".json", nil)
	switch {
	case err != nil:
		return sdk.Health{OK: false, Detail: "upstream unreachable: " + err.Error()}, nil
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return sdk.Health{OK: false, Detail: fmt.Sprintf("upstream refused the credentials (HTTP %d): check account_sid and auth_token", status)}, nil
	case status != http.StatusOK:
		return sdk.Health{OK: false, Detail: fmt.Sprintf("account lookup answered HTTP %d: %s", status, snippet(body))}, nil
	}
	var acct struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &acct)
	if acct.Status != "" && acct.Status != "active" {
		return sdk.Health{OK: false, Detail: fmt.Sprintf("account %s is %s", cfg.accountSID, acct.Status)}, nil
	}
	return sdk.Health{OK: true, Detail: "account " + cfg.accountSID + " reachable"}, nil
}

// Balance reads the account's Balance resource.
func (p *Provider) Balance(ctx context.Context) (sdk.Balance, error) {
	cfg, client, _, _, err := p.state()
	if err != nil {
		return sdk.Balance{}, err
	}
	status, _, body, err := p.do(ctx, cfg, client, http.MethodGet, "/Balance.json", nil)
	if err != nil {
		return sdk.Balance{}, fmt.Errorf("twilio balance: %w", err)
	}
	if status != http.StatusOK {
		return sdk.Balance{}, fmt.Errorf("twilio balance: upstream answered HTTP %d: %s", status, snippet(body))
	}
	var b struct {
		Balance  string `json:"balance"`
		Currency string `json:"currency"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return sdk.Balance{}, fmt.Errorf("twilio balance: malformed answer %s: %w", snippet(body), err)
	}
	amount, err := strconv.ParseFloat(b.Balance, 64)
	if err != nil || b.Currency == "" {
		return sdk.Balance{}, fmt.Errorf("twilio balance: answer %s lacks a numeric balance and a currency", snippet(body))
	}
	return sdk.Balance{Amount: amount, Currency: strings.ToUpper(b.Currency)}, nil
}

// QueryStatus fetches each message resource, at most max_concurrency at a
// time; ids the upstream does not know (404) are left out.
func (p *Provider) QueryStatus(ctx context.Context, ids []string) ([]sdk.StatusEvent, error) {
	cfg, client, _, _, err := p.state()
	if err != nil {
		return nil, err
	}
	found := make([]*sdk.StatusEvent, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, cfg.maxConcurrency)
	var wg sync.WaitGroup
	for i, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			found[i], errs[i] = p.queryOne(ctx, cfg, client, id)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("twilio status query: %w", err)
	}
	out := make([]sdk.StatusEvent, 0, len(ids))
	for _, ev := range found {
		if ev != nil {
			out = append(out, *ev)
		}
	}
	return out, nil
}

func (p *Provider) queryOne(ctx context.Context, cfg settings, client *http.Client, id string) (*sdk.StatusEvent, error) {
	status, _, body, err := p.do(ctx, cfg, client, http.MethodGet, "/Messages/"+url.PathEscape(id)+".json", nil)
	switch {
	case err != nil:
		return nil, fmt.Errorf("message %s: %w", id, err)
	case status == http.StatusNotFound:
		return nil, nil
	case status != http.StatusOK:
		return nil, fmt.Errorf("message %s: upstream answered HTTP %d: %s", id, status, snippet(body))
	}
	var mr messageResource
	if err := json.Unmarshal(body, &mr); err != nil || mr.Status == "" {
		return nil, fmt.Errorf("message %s: malformed answer %s", id, snippet(body))
	}
	code := strings.Trim(string(mr.ErrorCode), `"`)
	if code == "null" {
		code = ""
	}
	st, ok := mapStatus(mr.Status, code)
	if !ok {
		return nil, nil // an inbound message's sid; nothing we sent
	}
	ev := &sdk.StatusEvent{ProviderMessageID: id, Status: st, ProviderStatus: mr.Status, ErrorCode: code}
	if t, err := time.Parse(time.RFC1123Z, mr.DateUpdated); err == nil {
		ev.At = t
	}
	return ev, nil
}

// Close marks the provider closed and releases idle connections. Sends in
// flight finish on their own contexts.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
	return nil
}
