package providertest_test

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
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

// TestExample is how a plugin author runs the conformance kit: describe the
// provider (in process here; set Command instead of New to test the built
// binary), a configuration it accepts and some it must refuse.
func TestExample(t *testing.T) {
	providertest.Run(t, providertest.Target{
		Name:     "example",
		New:      func() sdk.Provider { return &exampleProvider{} },
		Settings: json.RawMessage(`{"prefix":"ex-"}`),
		BadSettings: []json.RawMessage{
			json.RawMessage(`{"prefix":""}`),
			json.RawMessage(`{"prefx":"ex-"}`),
		},
		ExpectReports: true,
		ReportTimeout: 5 * time.Second,
	})
}

// A provider that calls an HTTP JSON API and takes signed delivery reports
// tells the kit how its API answers (Upstream.Answer), what a delivery
// report looks like (Upstream.Report), and gives a recorded callback
// (Hooks). The kit then checks outcome classes, Retry-After, cancellation
// against a slow upstream, forged and odd callbacks, and that every
// accepted message gets its report. Call providertest.Run(t, target) from
// a test.
func ExampleUpstream() {
	const secret = "callback-secret"
	sign := func(body []byte) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return hex.EncodeToString(mac.Sum(nil))
	}
	report := []byte(`{"id":"m-1","status":"delivered"}`)
	target := providertest.Target{
		Name: "jsonapi",
		New:  newJSONProvider,
		Upstream: &providertest.Upstream{
			Settings: func(url string) json.RawMessage {
				return json.RawMessage(fmt.Sprintf(`{"base_url":%q,"secret":%q}`, url, secret))
			},
			Answer: func(w http.ResponseWriter, r *http.Request, reply providertest.Reply) {
				w.WriteHeader(reply.Status)
				if reply.Status != http.StatusOK {
					fmt.Fprintf(w, `{"error":%q}`, reply.Reason)
					return
				}
				fmt.Fprintf(w, `{"id":%q,"balance":"12.50","currency":"EUR"}`, reply.ID)
			},
			Report: func(hookURL, id string) (*http.Request, error) {
				body := fmt.Appendf(nil, `{"id":%q,"status":"delivered"}`, id)
				req, err := http.NewRequest(http.MethodPost, hookURL+"/status", bytes.NewReader(body))
				if err == nil {
					req.Header.Set("X-Signature", sign(body))
				}
				return req, err
			},
		},
		Hooks: []providertest.HookCase{{
			Name: "delivered",
			Request: sdk.HookRequest{Method: http.MethodPost, URL: "https://sms.example.com/hooks/status", Path: "/status",
				Header: http.Header{"X-Signature": {sign(report)}}, Body: report},
			Events: []sdk.Event{{Status: &sdk.StatusEvent{ProviderMessageID: "m-1", Status: sdk.StatusDelivered}}},
		}},
		ExpectReports: true,
	}
	_ = target // providertest.Run(t, target)
}

// newJSONProvider stands for the provider of ExampleUpstream.
func newJSONProvider() sdk.Provider { return &exampleProvider{} }

// exampleProvider accepts every message and reports it delivered at once.
type exampleProvider struct {
	mu      sync.Mutex
	prefix  string
	next    int
	pending []sdk.Event
	wake    chan struct{}
}

func (p *exampleProvider) Info() sdk.Info {
	return sdk.Info{Name: "example", Version: "0.1.0", MaxBatchSize: 10}
}

func (p *exampleProvider) Configure(ctx context.Context, cfg sdk.Config) error {
	var s struct {
		Prefix string `json:"prefix"`
	}
	dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("example settings: %w", err)
	}
	if s.Prefix == "" {
		return errors.New("example setting prefix: must not be empty")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prefix = s.Prefix
	p.wake = make(chan struct{}, 1)
	return nil
}

func (p *exampleProvider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.prefix == "" {
		return nil, errors.New("example: Send before Configure")
	}
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		p.next++
		id := fmt.Sprintf("%s%d", p.prefix, p.next)
		results[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: id}
		p.pending = append(p.pending, sdk.Event{
			ID:     id + ":delivered",
			Status: &sdk.StatusEvent{ProviderMessageID: id, Status: sdk.StatusDelivered, At: time.Now()},
		})
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return results, nil
}

// Events offers pending events in order; one the host refuses is kept and
// offered again after a pause.
func (p *exampleProvider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	for {
		p.mu.Lock()
		var ev sdk.Event
		ok := len(p.pending) > 0
		if ok {
			ev = p.pending[0]
		}
		p.mu.Unlock()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-p.wake:
			}
			continue
		}
		if err := emit(ctx, ev); err != nil {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		p.pending = p.pending[1:]
		p.mu.Unlock()
	}
}

func (p *exampleProvider) Close(ctx context.Context) error { return nil }
