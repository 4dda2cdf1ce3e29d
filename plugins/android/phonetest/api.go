package phonetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/android-sms-gateway/client-go/smsgateway"
)

// errUnauthorized marks a 401, after which a restarted app registers again.
var errUnauthorized = errors.New("401 Unauthorized")

// call makes one mobile API request as the app does (its user agent, JSON,
// the given Bearer token) and decodes a 2xx answer into out. Any other
// status is an error to the app.
func (p *Phone) call(ctx context.Context, method, path, bearer string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	return p.callRaw(ctx, method, path, bearer, body, out)
}

func (p *Phone) callRaw(ctx context.Context, method, path, bearer string, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, body)
	if err != nil {
		return 0, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	req.Header.Set("User-Agent", "me.capcom.smsgateway/1.68.0")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, errUnauthorized, bytes.TrimSpace(raw))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s %s: answered %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: the answer is not what the app reads: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func (p *Phone) simCards() []SIMCard {
	cards := make([]SIMCard, len(p.opts.SIMs))
	for i, s := range p.opts.SIMs {
		cards[i] = SIMCard{SIMNumber: i + 1, PhoneNumber: s.Number, CarrierName: s.Operator, CountryISO: s.Country}
	}
	return cards
}

// enrol is the app's start: PATCH /device with the saved identity, and on
// 401 (or with no identity) POST /device with the private token.
func (p *Phone) enrol(ctx context.Context, restart bool) error {
	p.mu.Lock()
	ident := p.ident
	p.mu.Unlock()
	if restart {
		_, err := p.call(ctx, http.MethodPatch, "/device", ident.Token, UpdateRequest{ID: ident.ID, SIMCards: p.simCards()}, nil)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errUnauthorized) {
			return fmt.Errorf("updating the device after a restart: %w", err)
		}
	}
	var out smsgateway.MobileRegisterResponse
	status, err := p.call(ctx, http.MethodPost, "/device", p.opts.PrivateToken, RegisterRequest{Name: p.opts.Name, SIMCards: p.simCards()}, &out)
	p.mu.Lock()
	p.registered = status
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("registering with the private token: %w", err)
	}
	if out.Id == "" || out.Token == "" {
		return fmt.Errorf("registering: the answer lacks id or token (got id %q)", out.Id)
	}
	p.mu.Lock()
	// login and password are kept from the first registration when the
	// server leaves the password out for an existing user.
	if out.Password == "" {
		out.Password = p.ident.Password
	}
	p.ident = Identity{ID: out.Id, Token: out.Token, Login: out.Login, Password: out.Password}
	p.changedLocked()
	p.mu.Unlock()
	return nil
}

func (p *Phone) token() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ident.Token
}

// fetchWebhooks is GET /webhooks: the list tells the phone where to post
// each event.
func (p *Phone) fetchWebhooks(ctx context.Context) {
	var hooks []smsgateway.Webhook
	if _, err := p.call(ctx, http.MethodGet, "/webhooks", p.token(), nil, &hooks); err != nil {
		p.errorf("fetching webhooks: %v", err)
		return
	}
	p.mu.Lock()
	p.webhooks = hooks
	p.changedLocked()
	p.mu.Unlock()
}

// fetchSettings is GET /settings; a signing key there replaces the phone's.
func (p *Phone) fetchSettings(ctx context.Context) {
	var s smsgateway.DeviceSettings
	if _, err := p.call(ctx, http.MethodGet, "/settings", p.token(), nil, &s); err != nil {
		p.errorf("fetching settings: %v", err)
		return
	}
	p.mu.Lock()
	p.settings = s
	if s.Webhooks != nil && s.Webhooks.SigningKey != nil && *s.Webhooks.SigningKey != "" {
		p.signingKey = *s.Webhooks.SigningKey
	}
	p.changedLocked()
	p.mu.Unlock()
}

// pull is GET /message?order=lifo: every message not seen before is taken
// into the phone's own store and worked on; a message seen before has its
// state sent again, as the app does.
func (p *Phone) pull(ctx context.Context) {
	var list smsgateway.MobileGetMessagesResponse
	if _, err := p.call(ctx, http.MethodGet, "/message?order=lifo", p.token(), nil, &list); err != nil {
		if ctx.Err() == nil {
			p.errorf("pulling messages: %v", err)
		}
		return
	}
	var resend []string
	p.mu.Lock()
	p.pulls++
	for _, m := range list {
		if old, ok := p.msgs[m.ID]; ok {
			if old.reported {
				resend = append(resend, m.ID)
			}
			continue
		}
		p.msgs[m.ID] = newLocal(m, p.opts.Location)
		select {
		case p.received <- m:
		default:
		}
		if p.powered {
			p.enqueueLocked(m.ID)
		}
	}
	p.changedLocked()
	p.mu.Unlock()
	for _, id := range resend {
		p.mu.Lock()
		item, ok := p.snapshotLocked(id)
		p.mu.Unlock()
		if ok {
			p.report(ctx, item, false)
		}
	}
}

// requestPull asks the session's puller for a pull; pulls asked for while
// one runs collapse into one more.
func (p *Phone) requestPull() {
	select {
	case p.pullNow <- struct{}{}:
	default:
	}
}

// sendPatch posts one PATCH /message body (and its configured duplicates).
func (p *Phone) sendPatch(ctx context.Context, body []byte) error {
	for i := 0; i <= p.opts.DuplicatePatches; i++ {
		if _, err := p.callRaw(ctx, http.MethodPatch, "/message", p.token(), bytes.NewReader(body), nil); err != nil {
			return err
		}
	}
	return nil
}

// ReplayPatches sends every PATCH /message the phone ever sent again, in
// order, as an app retrying after a reconnect may.
func (p *Phone) ReplayPatches(ctx context.Context) error {
	p.mu.Lock()
	bodies := append([][]byte(nil), p.patches...)
	p.mu.Unlock()
	for _, b := range bodies {
		if _, err := p.callRaw(ctx, http.MethodPatch, "/message", p.token(), bytes.NewReader(b), nil); err != nil {
			return fmt.Errorf("replaying a PATCH /message: %w", err)
		}
	}
	return nil
}

// postWebhook signs and posts one event to every webhook registered for it.
// It reports whether a webhook took it.
func (p *Phone) postWebhook(ctx context.Context, ev outgoing) error {
	p.mu.Lock()
	var urls []smsgateway.Webhook
	for _, h := range p.webhooks {
		if h.Event == ev.event {
			urls = append(urls, h)
		}
	}
	key, device := p.signingKey, p.ident.ID
	p.mu.Unlock()
	if len(urls) == 0 {
		return fmt.Errorf("no webhook for %s: the server has not handed one out (GET /webhooks)", ev.event)
	}
	for _, h := range urls {
		body, err := encodeLikeApp(WebhookEvent{DeviceID: device, Event: ev.event, ID: ev.id, Payload: ev.payload, WebhookID: h.ID})
		if err != nil {
			return fmt.Errorf("encoding %s: %w", ev.event, err)
		}
		ts := strconv.FormatInt(ev.at.Unix(), 10)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("webhook %s: %w", ev.event, err)
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", "me.capcom.smsgateway/1.68.0")
		req.Header.Set("X-Timestamp", ts)
		req.Header.Set("X-Signature", Sign(key, body, ts))
		resp, err := p.client.Do(req)
		if err != nil {
			return fmt.Errorf("webhook %s: %w", ev.event, err)
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("webhook %s: answered %d: %s", ev.event, resp.StatusCode, bytes.TrimSpace(raw))
		}
	}
	return nil
}
