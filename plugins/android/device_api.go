package android

import (
	"net/http"
	"strings"

	"github.com/android-sms-gateway/client-go/smsgateway"

	"github.com/smsrouter/smsrouter/sdk"
)

// simCard is a SIM as the app reports it at registration and update. The
// client module has no type for it; the names the app uses vary between
// versions, so the usual ones are all read.
type simCard struct {
	SimNumber   *int   `json:"simNumber"`
	Slot        *int   `json:"slot"`
	SlotIndex   *int   `json:"slotIndex"` // 0-based, as Android's
	PhoneNumber string `json:"phoneNumber"`
	Number      string `json:"number"`
	CarrierName string `json:"carrierName"`
	Operator    string `json:"operator"`
	CountryISO  string `json:"countryIso"`
	Country     string `json:"country"`
}

func (c simCard) toSIM() (*sim, bool) {
	slot := 0
	switch {
	case c.SimNumber != nil:
		slot = *c.SimNumber
	case c.Slot != nil:
		slot = *c.Slot
	case c.SlotIndex != nil:
		slot = *c.SlotIndex + 1
	}
	if slot < 1 || slot > 3 {
		return nil, false
	}
	s := &sim{Slot: slot, Number: firstOf(c.PhoneNumber, c.Number), Operator: firstOf(c.CarrierName, c.Operator),
		Country: strings.ToUpper(firstOf(c.CountryISO, c.Country))}
	if s.Number != "" && !e164Full.MatchString(s.Number) {
		s.Number = ""
	}
	return s, true
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return truncate(v, 64)
		}
	}
	return ""
}

func sims(cards []simCard) []*sim {
	var out []*sim
	for _, c := range cards {
		if s, ok := c.toSIM(); ok && findSIM(out, s.Slot) == nil {
			out = append(out, s)
		}
	}
	return out
}

// registerRequest is POST /device: the client module's request plus the
// SIMs the app sends.
type registerRequest struct {
	smsgateway.MobileRegisterRequest
	SIMCards []simCard `json:"simCards"`
}

// updateRequest is PATCH /device, sent by the app at every start.
type updateRequest struct {
	smsgateway.MobileUpdateRequest
	SIMCards []simCard `json:"simCards"`
}

// register answers POST /device: a phone with the private token gets a
// device id and token. A phone registering again under the name of a
// phone that is not connected (the app does after a 401) gets that
// identity back with a new token, so one phone keeps one identity.
func (p *Provider) register(req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	token, ok := bearer(req.Header)
	if !ok || !sameSecret(token, string(p.s.PrivateToken)) {
		fail(w, http.StatusUnauthorized, "registration needs the server's private token (Authorization: Bearer <private token>)")
		return nil
	}
	var body registerRequest
	if !decode(req, &body, w) {
		return nil
	}
	name := "phone"
	if body.Name != nil && strings.TrimSpace(*body.Name) != "" {
		name = truncate(strings.TrimSpace(*body.Name), 128)
	}
	deviceToken, err := newSecret(32)
	if err != nil {
		return err
	}
	d, status, err := p.enroll(name, hashToken(deviceToken), sims(body.SIMCards))
	if err != nil {
		return err
	}
	if d == nil {
		fail(w, status, "this provider has max_phones phones registered already; revoke one or raise max_phones")
		return nil
	}
	writeJSON(w, http.StatusCreated, smsgateway.MobileRegisterResponse{Id: d.ID, Token: deviceToken, Login: p.name})
	return nil
}

// enroll adds or re-keys the phone named name and saves the phones.
func (p *Provider) enroll(name, tokenHash string, reported []*sim) (*device, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var d *device
	for _, old := range p.devices {
		if old.Name == name && old.streams == 0 {
			d = old
			break
		}
	}
	if d != nil {
		delete(p.byToken, d.TokenHash)
		d.TokenHash = tokenHash
		p.byToken[tokenHash] = d
		if len(reported) > 0 {
			p.applySIMsLocked(d, reported)
		}
		p.log.Info("phone registered again, same identity", "device_id", d.ID, "name", name)
	} else {
		if len(p.devices) >= p.s.MaxPhones {
			return nil, http.StatusForbidden, nil
		}
		id, err := newSecret(15)
		if err != nil {
			return nil, 0, err
		}
		d = newDevice(id, name, tokenHash, now)
		d.SIMs = reported
		p.addDeviceLocked(d)
		p.log.Info("phone registered", "device_id", d.ID, "name", name, "sims", len(d.SIMs))
	}
	p.seenLocked(d)
	return d, 0, p.saveLocked()
}

// updateDevice answers PATCH /device, which the app sends at every start
// with its SIMs.
func (p *Provider) updateDevice(req *sdk.HookRequest, d *device, w sdk.HookResponseWriter) error {
	var body updateRequest
	if !decode(req, &body, w) {
		return nil
	}
	if body.Id != "" && body.Id != d.ID {
		fail(w, http.StatusForbidden, "the device id does not belong to this device token")
		return nil
	}
	p.mu.Lock()
	if len(body.SIMCards) > 0 {
		p.applySIMsLocked(d, sims(body.SIMCards))
	}
	err := p.saveLocked()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deviceInfo answers GET /device.
func (p *Provider) deviceInfo(req *sdk.HookRequest, d *device, w sdk.HookResponseWriter) error {
	p.mu.Lock()
	dev := smsgateway.Device{ID: d.ID, Name: d.Name, CreatedAt: d.CreatedAt, UpdatedAt: d.CreatedAt, LastSeen: d.lastSeen}
	p.mu.Unlock()
	ip, _, _ := strings.Cut(req.RemoteAddr, ":")
	writeJSON(w, http.StatusOK, smsgateway.MobileDeviceResponse{Device: &dev, ExternalIP: ip})
	return nil
}

// webhooks answers GET /webhooks: the events the phone posts to this
// provider's webhook URL.
func (p *Provider) webhooks(d *device, w sdk.HookResponseWriter) error {
	events := []smsgateway.WebhookEvent{smsgateway.WebhookEventSmsReceived, smsgateway.WebhookEventSmsSent,
		smsgateway.WebhookEventSmsDelivered, smsgateway.WebhookEventSmsFailed, smsgateway.WebhookEventSystemPing}
	list := make([]smsgateway.Webhook, 0, len(events))
	for _, ev := range events {
		id := d.ID
		list = append(list, smsgateway.Webhook{ID: "smsrouter-" + strings.ReplaceAll(ev, ":", "-"), DeviceID: &id,
			URL: p.hookURL + webhookPath, Event: ev})
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// sseOnly is the app's notification channel that keeps the event stream
// open even where Google services could deliver pushes: smsrouter sends no
// pushes, so a phone waiting for one would find work only on its slow poll.
const sseOnly = "SSE_ONLY"

// deviceSettings answers GET /settings: the key the phone signs webhooks
// with, how often it pings, and to wait for work on the event stream only.
func (p *Provider) deviceSettings(d *device, w sdk.HookResponseWriter) error {
	key := p.signingKey(d.ID)
	interval := int(p.s.PingInterval.D().Seconds())
	channel := sseOnly
	writeJSON(w, http.StatusOK, smsgateway.DeviceSettings{
		Webhooks: &smsgateway.SettingsWebhooks{SigningKey: &key},
		Ping:     &smsgateway.SettingsPing{IntervalSeconds: &interval},
		Gateway:  &smsgateway.SettingsGateway{NotificationChannel: &channel},
	})
	return nil
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
