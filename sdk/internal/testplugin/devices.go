package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/smsrouter/smsrouter/sdk"
)

// The device, number, network and tuning capabilities, with fixed answers
// the sdk's tests compare exactly.

func (p *provider) Numbers(context.Context) ([]sdk.ReceivingNumber, error) {
	return []sdk.ReceivingNumber{{Number: "+959123456789", CanSend: true}, {Number: "12345", Country: "MM"}}, nil
}

// Devices lists a phone and a modem port, less those revoked.
func (p *provider) Devices(context.Context) ([]sdk.Device, error) {
	battery, signal := 80, -71
	all := []sdk.Device{
		{ID: "ph-1", Name: "Pixel", Kind: sdk.DevicePhone, Online: true, LastSeen: At, Battery: &battery, Charging: true,
			InFlight: 2, SentToday: 17, SIMs: []sdk.DeviceSIM{{Slot: 1, Number: "+959123456789", Operator: "Telenor", Country: "MM"}}},
		{ID: "ttyUSB0", Name: "/dev/ttyUSB0", Kind: sdk.DeviceModemPort, IMEI: "490154203237518", IMSI: "414061234567890",
			Operator: "Ooredoo", Country: "MM", Signal: &signal, Registration: sdk.RegistrationRoaming, Detail: "ready"},
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []sdk.Device
	for _, d := range all {
		if !p.revoked[d.ID] {
			out = append(out, d)
		}
	}
	return out, nil
}

func (p *provider) RevokeDevice(_ context.Context, id string) error {
	if id != "ph-1" {
		return fmt.Errorf("revoke %q: %w", id, sdk.ErrDeviceNotFound)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.revoked == nil {
		p.revoked = map[string]bool{}
	}
	p.revoked[id] = true
	return nil
}

func (p *provider) Networks(context.Context) (sdk.Networks, error) {
	return sdk.Networks{Operators: []string{"Telenor", "Ooredoo"}, Countries: []string{"MM"}}, nil
}

// Tune knows one tunable, "health": "up" or "down".
func (p *provider) Tune(_ context.Context, changes map[string]string) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range changes {
		if k != "health" || (v != "up" && v != "down") {
			return nil, fmt.Errorf("%s = %s: %w (want health = up or down)", k, strconv.Quote(v), sdk.ErrInvalidTune)
		}
	}
	if v, ok := changes["health"]; ok {
		p.down = v == "down"
	}
	state := "up"
	if p.down {
		state = "down"
	}
	return map[string]string{"health": state}, nil
}
