package flawed

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Secret is what Settings has the upstream sign callbacks with.
const Secret = "flawed-secret"

// HTTP is an HTTP JSON provider: POST {base_url}/messages answers
// {"id":...}, GET {base_url}/balance answers {"balance":"12.50","currency":...},
// and the upstream posts delivery reports {"id":...,"status":...} to
// {hook}/status, signed in the X-Signature header (hex HMAC-SHA256 of the
// body with the secret setting).
type HTTP struct {
	flaw Flaw

	mu     sync.Mutex
	url    string
	secret string
	client *http.Client
}

// NewHTTP returns the HTTP provider with flaw.
func NewHTTP(flaw Flaw) *HTTP { return &HTTP{flaw: flaw} }

// Settings are the provider's settings for the upstream at url.
func Settings(url string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"base_url":%q,"secret":%q}`, url, Secret))
}

// Answer writes the upstream's answer in its API.
func Answer(w http.ResponseWriter, r *http.Request, status int, id, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	switch {
	case status != http.StatusOK:
		fmt.Fprintf(w, `{"error":%q}`, reason)
	default:
		fmt.Fprintf(w, `{"id":%q,"balance":"12.50","currency":"EUR"}`, id)
	}
}

// Sign is the X-Signature of body under secret.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func (p *HTTP) Info() sdk.Info {
	return sdk.Info{Name: "flawed-http", Version: "0.0.1", MaxBatchSize: 5}
}

func (p *HTTP) Configure(ctx context.Context, cfg sdk.Config) error {
	var s struct {
		URL    string `json:"base_url"`
		Secret string `json:"secret"`
	}
	dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
	dec.DisallowUnknownFields()
	err := dec.Decode(&s)
	switch {
	case err != nil:
	case !strings.HasPrefix(s.URL, "http"):
		err = errors.New("base_url: must be an http URL")
	case s.Secret == "":
		err = errors.New("secret: must not be empty")
	}
	if err != nil && p.flaw != AcceptsBadSettings {
		return fmt.Errorf("flawed settings: %w", err)
	}
	if p.flaw == LeaksGoroutine {
		leak()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.url, p.secret, p.client = s.URL, s.Secret, &http.Client{}
	return nil
}

func (p *HTTP) state() (string, *http.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil && p.flaw != SendsUnconfigured {
		return "", nil, errors.New("flawed: not configured")
	}
	return p.url, p.client, nil
}

func (p *HTTP) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	url, client, err := p.state()
	if err != nil {
		return nil, err
	}
	if p.flaw == SendsUnconfigured && client == nil {
		client = http.DefaultClient
	}
	if p.flaw == AcceptsAfterCancel {
		ctx = context.WithoutCancel(ctx)
	}
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		results[i] = p.sendOne(ctx, client, url, m)
	}
	switch p.flaw {
	case DropsResult:
		results = results[:len(results)-1]
	case WrongMessageID:
		results[0].MessageID = "msg_someone_else"
	case NoProviderID:
		results[0].ProviderMessageID = ""
	}
	return results, nil
}

func (p *HTTP) sendOne(ctx context.Context, client *http.Client, url string, m sdk.Message) sdk.SendResult {
	res := sdk.SendResult{MessageID: m.ID}
	body, _ := json.Marshal(map[string]string{"to": m.To, "text": m.Text, "ref": m.ID})
	if p.flaw == SendsUnconfigured && url == "" {
		// Sends nowhere and calls it a success.
		res.Outcome, res.ProviderMessageID = sdk.Accepted, "unconfigured-"+m.ID
		return res
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/messages", bytes.NewReader(body))
	if p.flaw == IgnoresContext {
		req, err = http.NewRequest(http.MethodPost, url+"/messages", bytes.NewReader(body))
	}
	if err != nil {
		res.Outcome, res.Reason = sdk.Permanent, err.Error()
		return res
	}
	resp, err := client.Do(req)
	if err != nil {
		res.Outcome, res.Reason = sdk.Temporary, err.Error()
		return res
	}
	defer resp.Body.Close()
	var answer struct{ ID, Error string }
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	return p.classify(res, resp, answer.ID, answer.Error)
}

func (p *HTTP) classify(res sdk.SendResult, resp *http.Response, id, reason string) sdk.SendResult {
	res.Code, res.Reason = strconv.Itoa(resp.StatusCode), reason
	switch {
	case resp.StatusCode == http.StatusOK:
		res.Outcome, res.ProviderMessageID, res.Reason = sdk.Accepted, id, ""
	case resp.StatusCode == http.StatusTooManyRequests && p.flaw == ThrottleAsPermanent:
		res.Outcome = sdk.Permanent
	case resp.StatusCode == http.StatusTooManyRequests:
		res.Outcome = sdk.Temporary
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			res.RetryAfter = time.Duration(secs) * time.Second
		} else if at, err := http.ParseTime(resp.Header.Get("Retry-After")); err == nil {
			res.RetryAfter = time.Until(at)
		}
		if p.flaw == IgnoresRetryAfter {
			res.RetryAfter = 0
		}
	case resp.StatusCode == http.StatusUnauthorized && p.flaw != AccountAsPermanent:
		res.Outcome = sdk.OutcomeAccountError
	case resp.StatusCode >= 500:
		res.Outcome = sdk.Temporary
	default:
		res.Outcome = sdk.Permanent
	}
	return res
}

func (p *HTTP) Balance(ctx context.Context) (sdk.Balance, error) {
	url, client, err := p.state()
	if err != nil {
		return sdk.Balance{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/balance", nil)
	if err != nil {
		return sdk.Balance{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return sdk.Balance{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if p.flaw == ZeroBalanceOnFailure {
			return sdk.Balance{Currency: "EUR"}, nil
		}
		return sdk.Balance{}, fmt.Errorf("balance: HTTP %d", resp.StatusCode)
	}
	var b struct{ Balance, Currency string }
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		return sdk.Balance{}, fmt.Errorf("balance: %w", err)
	}
	amount, err := strconv.ParseFloat(b.Balance, 64)
	if err != nil || (b.Currency == "" && p.flaw != BalanceWithoutCurrency) {
		return sdk.Balance{}, fmt.Errorf("balance: answer lacks a numeric balance and a currency")
	}
	if p.flaw == BalanceWithoutCurrency {
		b.Currency = ""
	}
	return sdk.Balance{Amount: amount, Currency: b.Currency}, nil
}

// HandleHook takes signed delivery reports at /status.
func (p *HTTP) HandleHook(ctx context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	if req.Path != "/status" {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	sig := req.Header.Get("X-Signature")
	if p.flaw == PanicsInHook {
		sig = req.Header["X-Signature"][0] // index out of range when the header is missing
	}
	p.mu.Lock()
	secret := p.secret
	p.mu.Unlock()
	if p.flaw != UnsignedHooks && !hmac.Equal([]byte(sig), []byte(Sign(secret, req.Body))) {
		w.WriteHeader(http.StatusForbidden)
		return nil
	}
	var report map[string]any
	if err := json.Unmarshal(req.Body, &report); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return nil
	}
	id, _ := report["id"].(string)
	status, _ := report["status"].(string)
	if id == "" || !sdk.Status(status).Valid() {
		w.WriteHeader(http.StatusBadRequest)
		return nil
	}
	ev := sdk.Event{ID: id + "/" + status, Status: &sdk.StatusEvent{ProviderMessageID: id, Status: sdk.Status(status)}}
	if p.flaw == EmitsLate {
		w.WriteHeader(http.StatusOK)
	}
	w.Emit(ev)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *HTTP) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
	return nil
}

// leaked is what leaked goroutines wait for; StopLeaks closes it.
var (
	leakMu sync.Mutex
	leaked = make(chan struct{})
)

func leak() {
	leakMu.Lock()
	c := leaked
	leakMu.Unlock()
	go func() { <-c }()
}

// StopLeaks ends every goroutine a flawed provider leaked, so the test
// binary's own leak check passes.
func StopLeaks() {
	leakMu.Lock()
	defer leakMu.Unlock()
	close(leaked)
	leaked = make(chan struct{})
}
