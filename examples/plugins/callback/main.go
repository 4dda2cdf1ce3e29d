// Command callback is an example smsrouter plugin for an HTTP JSON API that takes
// messages at POST /messages, reports credit at GET /balance and posts delivery
// reports to the plugin's hook URL, signed (X-Signature: HMAC-SHA256 of the body).
package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

func main() { sdk.Serve(&provider{}) }

// settings are the provider block's config = { … }.
type settings struct {
	BaseURL       string     `json:"base_url"`
	APIKey        sdk.Secret `json:"api_key"`
	WebhookSecret sdk.Secret `json:"webhook_secret"`
	hookURL       string     // and client: from Configure
	client        *http.Client
}

func (s *settings) Validate() error {
	switch {
	case !strings.HasPrefix(s.BaseURL, "https://") && !strings.HasPrefix(s.BaseURL, "http://"):
		return sdk.BadSetting("base_url", "want the API's URL such as \"https://api.example.com\", got %q", s.BaseURL)
	case s.APIKey == "":
		return sdk.BadSetting("api_key", "required")
	case s.WebhookSecret == "":
		return sdk.BadSetting("webhook_secret", "required: the API signs delivery reports with it")
	}
	return nil
}

type provider struct{ s atomic.Pointer[settings] }

var errUnconfigured = fmt.Errorf("callback: Configure was not called")

func (p *provider) Info() sdk.Info { return sdk.Info{Name: "callback", Version: "0.1.0"} }

// ValidateSettings lets `smsrouter config validate` check the settings.
func (p *provider) ValidateSettings(_ context.Context, cfg sdk.Config) error {
	return sdk.DecodeSettings(cfg.Settings, new(settings))
}

func (p *provider) Configure(_ context.Context, cfg sdk.Config) error {
	s := new(settings)
	if err := sdk.DecodeSettings(cfg.Settings, s); err != nil {
		return err
	}
	s.hookURL, s.client = cfg.HookURL, &http.Client{Timeout: 10 * time.Second}
	p.s.Store(s)
	return nil
}

func (p *provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	s := p.s.Load()
	if s == nil {
		return nil, errUnconfigured
	}
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		var answer struct{ ID, Error string }
		req := map[string]string{"to": m.To, "from": m.From, "text": m.Text, "reference": m.ID, "callback_url": s.hookURL + "/status"}
		resp, err := s.call(ctx, http.MethodPost, "/messages", req, &answer)
		switch {
		case err != nil:
			results[i] = sdk.Unavailable(m.ID, err.Error())
		case resp.StatusCode/100 == 2 && answer.ID != "":
			results[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: answer.ID}
		case resp.StatusCode == http.StatusTooManyRequests:
			wait, _ := sdk.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			results[i] = sdk.RetryAfter(m.ID, min(wait, 10*time.Minute), answer.Error).WithCode("429")
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			results[i] = sdk.AccountError(m.ID, answer.Error).WithCode(fmt.Sprint(resp.StatusCode))
		case resp.StatusCode >= 500:
			results[i] = sdk.Unavailable(m.ID, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, answer.Error)).WithCode(fmt.Sprint(resp.StatusCode))
		default:
			results[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Permanent, Code: fmt.Sprint(resp.StatusCode), Reason: answer.Error}
		}
	}
	return results, nil
}

// call makes one request of the API, decoding its JSON answer into out.
func (s *settings) call(ctx context.Context, method, path string, body, out any) (*http.Response, error) {
	if s == nil {
		return nil, errUnconfigured
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(s.BaseURL, "/")+path, strings.NewReader(string(b)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.APIKey.Reveal())
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(out) // error answers may not be JSON
	}
	return resp, err
}

func (p *provider) Balance(ctx context.Context) (sdk.Balance, error) {
	s := p.s.Load()
	var b sdk.Balance
	if resp, err := s.call(ctx, http.MethodGet, "/balance", nil, &b); err != nil {
		return sdk.Balance{}, fmt.Errorf("callback balance: %w", err)
	} else if resp.StatusCode != http.StatusOK || b.Currency == "" {
		return sdk.Balance{}, fmt.Errorf("callback balance: the API answered HTTP %d without a balance", resp.StatusCode)
	}
	return b, nil
}

var statuses = map[string]sdk.Status{"delivered": sdk.StatusDelivered, "undelivered": sdk.StatusUndeliverable, "failed": sdk.StatusFailed} // other words: unknown, never failed

// HandleHook takes the API's delivery reports, posted to HookURL + "/status".
func (p *provider) HandleHook(_ context.Context, req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	s := p.s.Load()
	if s == nil {
		return errUnconfigured
	}
	var r struct{ ID, Status, Error string }
	switch {
	case req.Method != http.MethodPost || req.Path != "/status":
		w.WriteHeader(http.StatusNotFound)
	case !sdk.VerifyHMAC(sha256.New, []byte(s.WebhookSecret.Reveal()), req.Body, req.Header.Get("X-Signature")):
		w.WriteHeader(http.StatusUnauthorized)
	case json.Unmarshal(req.Body, &r) != nil || r.ID == "":
		w.WriteHeader(http.StatusBadRequest)
	default: // emit before answering: the event is stored before the API hears 204
		ev := sdk.StatusEvent{ProviderMessageID: r.ID, Status: cmp.Or(statuses[r.Status], sdk.StatusUnknown), ProviderStatus: r.Status, ErrorCode: r.Error}
		if err := w.Emit(sdk.Event{ID: r.ID + "/" + r.Status, Status: &ev}); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

func (p *provider) Close(context.Context) error { return nil }
