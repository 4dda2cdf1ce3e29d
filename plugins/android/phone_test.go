package android_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"
)

// testPhone is a small stand-in for the app, enough for the plugin's own
// tests: register, event stream, pull, cumulative PATCHes, signed
// webhooks.
type testPhone struct {
	base   string // the URL typed into the app: <hook URL>/mobile/v1
	hook   string // the hook URL
	name   string
	client *http.Client

	// Deliver makes the phone report Delivered after Sent.
	Deliver bool
	// Fail, when set, is the error the phone reports for every message.
	Fail string
	// Silent phones connect but never pull their messages.
	Silent bool

	mu       sync.Mutex
	id       string
	token    string
	key      string
	webhooks []smsgateway.Webhook
	got      []smsgateway.MobileMessage
}

func newTestPhone(hookURL, name string) *testPhone {
	return &testPhone{base: hookURL + "/mobile/v1", hook: hookURL, name: name, client: &http.Client{}}
}

func (ph *testPhone) do(ctx context.Context, method, path, token string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, ph.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ph.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}

// Register registers the phone with the private token.
func (ph *testPhone) Register(ctx context.Context, privateToken string) error {
	name := ph.name
	var out smsgateway.MobileRegisterResponse
	in := map[string]any{"name": name, "simCards": []map[string]any{{"simNumber": 1, "phoneNumber": "+959790000001", "carrierName": "Telenor"}}}
	if _, err := ph.do(ctx, http.MethodPost, "/device", privateToken, in, &out); err != nil {
		return err
	}
	ph.mu.Lock()
	ph.id, ph.token = out.Id, out.Token
	ph.mu.Unlock()
	return nil
}

func (ph *testPhone) creds() (string, string) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return ph.id, ph.token
}

// Run holds the event stream open and works on what it announces until
// ctx ends; connected is closed once the stream is open.
func (ph *testPhone) Run(ctx context.Context, connected chan<- struct{}) error {
	_, token := ph.creds()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ph.base+"/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ph.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		return fmt.Errorf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if connected != nil {
		close(connected)
	}
	sc := bufio.NewScanner(resp.Body)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case line == "" && name != "":
			if err := ph.on(ctx, name); err != nil && ctx.Err() == nil {
				return err
			}
			name = ""
		}
	}
	return nil
}

func (ph *testPhone) on(ctx context.Context, event string) error {
	_, token := ph.creds()
	switch event {
	case "WebhooksUpdated":
		var hooks []smsgateway.Webhook
		if _, err := ph.do(ctx, http.MethodGet, "/webhooks", token, nil, &hooks); err != nil {
			return err
		}
		ph.mu.Lock()
		ph.webhooks = hooks
		ph.mu.Unlock()
	case "SettingsUpdated":
		var s smsgateway.DeviceSettings
		if _, err := ph.do(ctx, http.MethodGet, "/settings", token, nil, &s); err != nil {
			return err
		}
		if s.Webhooks != nil && s.Webhooks.SigningKey != nil {
			ph.mu.Lock()
			ph.key = *s.Webhooks.SigningKey
			ph.mu.Unlock()
		}
	case "MessageEnqueued":
		if ph.Silent {
			return nil
		}
		return ph.pull(ctx)
	}
	return nil
}

// pull fetches the phone's messages and reports each through its states.
func (ph *testPhone) pull(ctx context.Context) error {
	_, token := ph.creds()
	var msgs smsgateway.MobileGetMessagesResponse
	if _, err := ph.do(ctx, http.MethodGet, "/message?order=lifo", token, nil, &msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		ph.mu.Lock()
		ph.got = append(ph.got, m)
		ph.mu.Unlock()
		states := []smsgateway.ProcessingState{smsgateway.ProcessingStateProcessed, smsgateway.ProcessingStateSent}
		switch {
		case ph.Fail != "":
			states = []smsgateway.ProcessingState{smsgateway.ProcessingStateProcessed, smsgateway.ProcessingStateFailed}
		case ph.Deliver:
			states = append(states, smsgateway.ProcessingStateDelivered)
		}
		history := map[string]time.Time{}
		for _, st := range states {
			history[string(st)] = time.Now().UTC()
			rs := smsgateway.RecipientState{PhoneNumber: m.PhoneNumbers[0], State: st}
			if st == smsgateway.ProcessingStateFailed {
				e := ph.Fail
				rs.Error = &e
			}
			item := smsgateway.MobilePatchMessageItem{ID: m.ID, State: st, Recipients: []smsgateway.RecipientState{rs}, States: copyHistory(history)}
			if _, err := ph.do(ctx, http.MethodPatch, "/message", token, smsgateway.MobilePatchMessageRequest{item}, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyHistory(h map[string]time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// Webhook posts a signed webhook event as the app does.
func (ph *testPhone) Webhook(ctx context.Context, event string, payload any) (int, error) {
	id, _ := ph.creds()
	ph.mu.Lock()
	key := ph.key
	ph.mu.Unlock()
	body, err := json.Marshal(map[string]any{"deviceId": id, "event": event, "id": "evt1", "webhookId": "smsrouter", "payload": payload})
	if err != nil {
		return 0, err
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	mac.Write([]byte(ts))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ph.hook+"/webhook", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Timestamp", ts)
	req.Header.Set("X-Signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := ph.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Got lists the messages the phone pulled.
func (ph *testPhone) Got() []smsgateway.MobileMessage {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	return append([]smsgateway.MobileMessage(nil), ph.got...)
}
