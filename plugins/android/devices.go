package android

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// The provider shows its phones to operators and lets them revoke one,
// lists its SIMs' numbers for the numbers inventory and tells routing
// which networks its online phones can send on.
var (
	_ sdk.DeviceReporter  = (*Provider)(nil)
	_ sdk.DeviceRevoker   = (*Provider)(nil)
	_ sdk.NumberLister    = (*Provider)(nil)
	_ sdk.NetworkReporter = (*Provider)(nil)
)

// Devices returns every registered phone, by name: online state, last
// seen, battery, SIMs, messages in flight and sent today.
func (p *Provider) Devices(context.Context) ([]sdk.Device, error) {
	phones := p.Phones()
	out := make([]sdk.Device, 0, len(phones))
	for _, ph := range phones {
		d := sdk.Device{ID: ph.ID, Name: ph.Name, Kind: sdk.DevicePhone, Online: ph.Online, LastSeen: ph.LastSeen,
			Battery: ph.Battery, Charging: ph.Charging, InFlight: ph.InFlight, SentToday: ph.SentToday,
			Detail: fmt.Sprintf("%d event streams", ph.Streams)}
		for _, s := range ph.SIMs {
			d.SIMs = append(d.SIMs, sdk.DeviceSIM{Slot: s.Slot, Number: s.Number, Operator: s.Operator, Country: strings.ToUpper(s.Country)})
		}
		out = append(out, d)
	}
	return out, nil
}

// RevokeDevice forgets phone id and its token (see Revoke).
func (p *Provider) RevokeDevice(_ context.Context, id string) error {
	found, err := p.Revoke(id)
	if err != nil {
		return fmt.Errorf("revoking phone %q: %w", id, err)
	}
	if !found {
		return fmt.Errorf("android provider %q: phone %q: %w", p.name, id, sdk.ErrDeviceNotFound)
	}
	return nil
}

// Numbers returns the numbers of the phones' SIMs (as the app reported
// them or the phones setting gives them), each once: inbound SMS to them
// reaches this provider, and the phones send from them.
func (p *Provider) Numbers(context.Context) ([]sdk.ReceivingNumber, error) {
	var out []sdk.ReceivingNumber
	seen := map[string]bool{}
	for _, ph := range p.Phones() {
		for _, s := range ph.SIMs {
			if s.Number == "" || seen[s.Number] {
				continue
			}
			seen[s.Number] = true
			out = append(out, sdk.ReceivingNumber{Number: s.Number, Country: strings.ToUpper(s.Country), CanSend: true})
		}
	}
	return out, nil
}

// Networks returns the operators and countries of the online phones' SIMs,
// each once, sorted. The operator is the name the phone reports for its
// SIM (or the phones setting gives), which routing compares with the
// numbering plan's operator names.
func (p *Provider) Networks(context.Context) (sdk.Networks, error) {
	var n sdk.Networks
	for _, ph := range p.Phones() {
		if !ph.Online {
			continue
		}
		for _, s := range ph.SIMs {
			if s.Operator != "" {
				n.Operators = append(n.Operators, s.Operator)
			}
			if s.Country != "" {
				n.Countries = append(n.Countries, strings.ToUpper(s.Country))
			}
		}
	}
	slices.Sort(n.Operators)
	slices.Sort(n.Countries)
	n.Operators, n.Countries = slices.Compact(n.Operators), slices.Compact(n.Countries)
	return n, nil
}
