package android

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// PhoneView is a phone as operators see it.
type PhoneView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Online    bool      `json:"online"`
	LastSeen  time.Time `json:"last_seen"`
	Streams   int       `json:"streams"`
	Battery   *int      `json:"battery,omitempty"`
	Charging  bool      `json:"charging,omitempty"`
	SIMs      []SIMView `json:"sims"`
	InFlight  int       `json:"in_flight"`
	SentToday int       `json:"sent_today"`
}

// SIMView is a SIM of a phone as operators see it.
type SIMView struct {
	Slot     int      `json:"slot"`
	Number   string   `json:"number,omitempty"`
	Operator string   `json:"operator,omitempty"`
	Country  string   `json:"country,omitempty"`
	Prefixes []string `json:"prefixes,omitempty"`
}

// Phones lists the provider's phones, by name.
func (p *Provider) Phones() []PhoneView {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := make([]PhoneView, 0, len(p.devices))
	for _, d := range p.devices {
		v := PhoneView{ID: d.ID, Name: d.Name, Online: d.online(now, p.offlineAfter()), LastSeen: d.lastSeen.UTC(),
			Streams: d.streams, Charging: d.charging, InFlight: d.inFlight, SIMs: []SIMView{}}
		if d.sentDay == now.UTC().Format(time.DateOnly) {
			v.SentToday = d.sentToday
		}
		if d.battery >= 0 {
			b := d.battery
			v.Battery = &b
		}
		for _, s := range d.SIMs {
			v.SIMs = append(v.SIMs, SIMView{Slot: s.Slot, Number: s.Number, Operator: s.Operator, Country: s.Country, Prefixes: s.Prefixes})
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].ID < out[j].ID)
	})
	return out
}

// Revoke forgets phone id: its token stops working at once, its event
// streams end, and the messages offered to it go back to their Send calls.
// It reports whether there was such a phone.
func (p *Provider) Revoke(id string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[id]
	if d == nil {
		return false, nil
	}
	delete(p.devices, id)
	delete(p.byToken, d.TokenHash)
	close(d.gone)
	for _, j := range append([]*job(nil), d.queue...) {
		p.withdraw(j)
		j.dev = nil // its Send offers it to another phone
	}
	p.signalLocked()
	p.log.Info("phone revoked", "device_id", id, "name", d.Name)
	return true, p.saveLocked()
}

// Health is OK while at least one phone is online; its detail lists the
// phones, which the provider list shows operators.
func (p *Provider) Health(context.Context) (sdk.Health, error) {
	phones := p.Phones()
	online := 0
	var parts []string
	for _, ph := range phones {
		if ph.Online {
			online++
		}
		parts = append(parts, phoneSummary(ph))
	}
	detail := fmt.Sprintf("%d of %d phones online", online, len(phones))
	if online == 0 {
		detail = noGateway + " (" + detail + ")"
	}
	if len(parts) > 0 {
		list := strings.Join(parts, "; ")
		detail += ": " + truncate(list, 900)
	}
	// With when_offline = "refuse" the host refuses at accept, while no
	// phone is online, messages only this provider could send.
	p.mu.Lock()
	refuse := p.s.WhenOffline == OfflineRefuse
	p.mu.Unlock()
	return sdk.Health{OK: online > 0, Detail: detail, RefuseWhileDown: refuse}, nil
}

// phoneSummary is one phone in a line.
func phoneSummary(ph PhoneView) string {
	state := "offline, last seen " + ph.LastSeen.Format(time.RFC3339)
	if ph.Online {
		state = "online"
	}
	s := fmt.Sprintf("%s [%s] %s", ph.Name, ph.ID, state)
	if ph.Battery != nil {
		s += fmt.Sprintf(", battery %d%%", *ph.Battery)
	}
	s += fmt.Sprintf(", %d in flight, %d sent today", ph.InFlight, ph.SentToday)
	for _, sim := range ph.SIMs {
		if sim.Number != "" {
			s += fmt.Sprintf(", SIM%d %s", sim.Slot, sim.Number)
		}
	}
	return s
}

// admin answers the operator's phone list (GET /admin/devices) and
// revocation (DELETE /admin/devices/{id}), with admin_token as Bearer
// token. Without admin_token they are off.
func (p *Provider) admin(req *sdk.HookRequest, path string, w sdk.HookResponseWriter) error {
	if p.s.AdminToken == "" {
		fail(w, http.StatusNotFound, "the phone admin endpoints are off: set admin_token in the provider's config")
		return nil
	}
	token, ok := bearer(req.Header)
	if !ok || !sameSecret(token, string(p.s.AdminToken)) {
		fail(w, http.StatusUnauthorized, "admin calls need Authorization: Bearer <admin_token>")
		return nil
	}
	id := strings.TrimPrefix(strings.TrimPrefix(path, adminPrefix), "/")
	switch {
	case req.Method == http.MethodGet && id == "":
		writeJSON(w, http.StatusOK, map[string]any{"phones": p.Phones()})
	case req.Method == http.MethodDelete && id != "":
		found, err := p.Revoke(id)
		if err != nil {
			return err
		}
		if !found {
			fail(w, http.StatusNotFound, fmt.Sprintf("no phone with id %q", id))
			return nil
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		fail(w, http.StatusMethodNotAllowed, "GET "+adminPrefix+" lists the phones; DELETE "+adminPrefix+"/{id} revokes one")
	}
	return nil
}
