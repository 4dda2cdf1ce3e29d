package providertest

import (
	"context"
	"errors"
	"regexp"

	"github.com/smsrouter/smsrouter/sdk"
)

var countryCode = regexp.MustCompile(`^[A-Z]{2}$`)

// checkDeviceCapabilities checks the numbers, devices, networks,
// revocation and tuning capabilities a provider has, without changing
// anything: the host shows their answers to operators and routing.
func checkDeviceCapabilities(t tb, in *instance, ctx context.Context) {
	if in.caps.Numbers {
		guard(t, "Numbers", func() { checkNumbers(t, in.p.(sdk.NumberLister), ctx) })
	}
	if in.caps.Devices {
		guard(t, "Devices", func() { checkDevices(t, in.p.(sdk.DeviceReporter), ctx) })
	}
	if in.caps.Networks {
		guard(t, "Networks", func() { checkNetworks(t, in.p.(sdk.NetworkReporter), ctx) })
	}
	if in.caps.Revoke {
		guard(t, "RevokeDevice", func() {
			err := in.p.(sdk.DeviceRevoker).RevokeDevice(ctx, "providertest-unknown-device")
			if !errors.Is(err, sdk.ErrDeviceNotFound) {
				t.Errorf("RevokeDevice of an unknown id returned %v; want an error wrapping sdk.ErrDeviceNotFound", err)
			}
		})
	}
	if in.caps.Tune {
		guard(t, "Tune", func() { checkTune(t, in.p.(sdk.Tuner), ctx) })
	}
}

func checkNumbers(t tb, nl sdk.NumberLister, ctx context.Context) {
	nums, err := nl.Numbers(ctx)
	if err != nil {
		t.Errorf("Numbers: %v", err)
	}
	for _, n := range nums {
		if n.Number == "" {
			t.Errorf("Numbers returned an empty number: %+v", n)
		}
		if n.Country != "" && !countryCode.MatchString(n.Country) {
			t.Errorf("number %s has country %q; want an ISO 3166 alpha-2 code such as MM", n.Number, n.Country)
		}
	}
}

func checkDevices(t tb, dr sdk.DeviceReporter, ctx context.Context) {
	devs, err := dr.Devices(ctx)
	if err != nil {
		t.Errorf("Devices: %v", err)
	}
	seen := map[string]bool{}
	for _, d := range devs {
		if d.ID == "" || seen[d.ID] {
			t.Errorf("Devices returned device %+v with an empty or repeated id; ids must be unique", d)
		}
		seen[d.ID] = true
		if d.Kind != sdk.DevicePhone && d.Kind != sdk.DeviceModemPort {
			t.Errorf("device %s has kind %q; want %q or %q", d.ID, d.Kind, sdk.DevicePhone, sdk.DeviceModemPort)
		}
		for _, c := range append([]string{d.Country}, simCountries(d)...) {
			if c != "" && !countryCode.MatchString(c) {
				t.Errorf("device %s has country %q; want an ISO 3166 alpha-2 code such as MM", d.ID, c)
			}
		}
	}
	again, err := dr.Devices(ctx)
	if err == nil && !sameIDs(devs, again) {
		t.Errorf("Devices listed the same devices in another order on a second call; list them in a stable order (by name, then id), as operators read the list")
	}
}

func simCountries(d sdk.Device) []string {
	out := make([]string, len(d.SIMs))
	for i, s := range d.SIMs {
		out[i] = s.Country
	}
	return out
}

func sameIDs(a, b []sdk.Device) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

func checkNetworks(t tb, nr sdk.NetworkReporter, ctx context.Context) {
	n, err := nr.Networks(ctx)
	if err != nil {
		t.Errorf("Networks: %v", err)
	}
	for _, c := range n.Countries {
		if !countryCode.MatchString(c) {
			t.Errorf("Networks lists country %q; want ISO 3166 alpha-2 codes such as MM", c)
		}
	}
	for what, list := range map[string][]string{"operator": n.Operators, "country": n.Countries} {
		seen := map[string]bool{}
		for _, v := range list {
			if v == "" || seen[v] {
				t.Errorf("Networks lists %s %q empty or more than once (%q); list each once", what, v, list)
			}
			seen[v] = true
		}
	}
}

// checkTune reads the tunables (an empty change) and checks that an
// unknown one is refused as ErrInvalidTune.
func checkTune(t tb, tu sdk.Tuner, ctx context.Context) {
	if _, err := tu.Tune(ctx, map[string]string{}); err != nil {
		t.Errorf("Tune with no changes: %v; it should return the tunables", err)
	}
	_, err := tu.Tune(ctx, map[string]string{"providertest-unknown-tunable": "1"})
	if !errors.Is(err, sdk.ErrInvalidTune) {
		t.Errorf("Tune of an unknown tunable returned %v; want an error wrapping sdk.ErrInvalidTune", err)
	}
}

// checkDeviceUnsupported checks, for a plugin process, that the
// capabilities it lacks answer ErrUnsupported.
func checkDeviceUnsupported(in *instance, ctx context.Context, check func(string, bool, func() error)) {
	if n, ok := in.p.(sdk.NumberLister); ok {
		check("Numbers", in.caps.Numbers, func() error { _, err := n.Numbers(ctx); return err })
	}
	if d, ok := in.p.(sdk.DeviceReporter); ok {
		check("Devices", in.caps.Devices, func() error { _, err := d.Devices(ctx); return err })
	}
	if r, ok := in.p.(sdk.DeviceRevoker); ok {
		check("RevokeDevice", in.caps.Revoke, func() error { return r.RevokeDevice(ctx, "x") })
	}
	if n, ok := in.p.(sdk.NetworkReporter); ok {
		check("Networks", in.caps.Networks, func() error { _, err := n.Networks(ctx); return err })
	}
	if tu, ok := in.p.(sdk.Tuner); ok {
		check("Tune", in.caps.Tune, func() error { _, err := tu.Tune(ctx, nil); return err })
	}
}
