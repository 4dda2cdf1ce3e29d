package modem

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// The provider shows its ports to operators, lists their numbers for the
// numbers inventory and tells routing which networks it can send on.
var (
	_ sdk.DeviceReporter  = (*Provider)(nil)
	_ sdk.NumberLister    = (*Provider)(nil)
	_ sdk.NetworkReporter = (*Provider)(nil)
)

// Devices returns every port, by device path: its state, SIM, network and
// messages today. A port is online while it can take messages (open and
// registered).
func (p *Provider) Devices(context.Context) ([]sdk.Device, error) {
	if !p.configured.Load() {
		return nil, errNotConfigured
	}
	out := make([]sdk.Device, 0, len(p.ports))
	for _, pt := range p.ports {
		out = append(out, portDevice(pt.cfg, pt.snapshot(), time.Now()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// portDevice is one port as operators see it; its id is its device path,
// the name the configuration gives it.
func portDevice(cfg portConfig, st portStatus, now time.Time) sdk.Device {
	d := sdk.Device{
		ID: cfg.Path, Name: cfg.Path, Kind: sdk.DeviceModemPort,
		Online: st.eligible(0), LastSeen: st.LastSeen, IMEI: st.IMEI, IMSI: st.IMSI,
		Operator: st.Operator, Country: st.Country, Registration: registrationOf(st),
		SIMs:   []sdk.DeviceSIM{{Slot: 1, Number: st.Number, Operator: st.Operator, Country: st.Country}},
		Detail: describePort(cfg, st),
	}
	if st.day == now.Format(time.DateOnly) {
		d.SentToday = st.SentToday
	}
	if dbm, ok := dBm(st.RSSI); ok && st.State == stateReady {
		d.Signal = &dbm
	}
	return d
}

// registrationOf is the port's registration in the sdk's words; unknown
// while the port is not ready (the last poll's answer no longer holds).
func registrationOf(st portStatus) sdk.Registration {
	if st.State != stateReady {
		return sdk.RegistrationUnknown
	}
	switch st.Reg {
	case regHome:
		return sdk.RegistrationHome
	case regRoaming:
		return sdk.RegistrationRoaming
	case regSearching:
		return sdk.RegistrationSearching
	case regDenied:
		return sdk.RegistrationDenied
	case regNotSearching:
		return sdk.RegistrationNotRegistered
	}
	return sdk.RegistrationUnknown
}

// Numbers returns the ports' numbers (configured, or the SIM's own from
// +CNUM), each once: messages reach the provider on them, and a port can
// send from its own.
func (p *Provider) Numbers(context.Context) ([]sdk.ReceivingNumber, error) {
	if !p.configured.Load() {
		return nil, errNotConfigured
	}
	var out []sdk.ReceivingNumber
	seen := map[string]bool{}
	for _, pt := range p.ports {
		st := pt.snapshot()
		if st.Number == "" || seen[st.Number] {
			continue
		}
		seen[st.Number] = true
		out = append(out, sdk.ReceivingNumber{Number: st.Number, Country: st.Country, CanSend: true})
	}
	return out, nil
}

// Networks returns the operators and countries of the ports that can send
// now (ready and registered), each once, sorted.
func (p *Provider) Networks(context.Context) (sdk.Networks, error) {
	if !p.configured.Load() {
		return sdk.Networks{}, errNotConfigured
	}
	var n sdk.Networks
	for _, pt := range p.ports {
		st := pt.snapshot()
		if !st.eligible(0) {
			continue
		}
		if st.Operator != "" {
			n.Operators = append(n.Operators, st.Operator)
		}
		if st.Country != "" {
			n.Countries = append(n.Countries, st.Country)
		}
	}
	slices.Sort(n.Operators)
	slices.Sort(n.Countries)
	n.Operators, n.Countries = slices.Compact(n.Operators), slices.Compact(n.Countries)
	return n, nil
}
