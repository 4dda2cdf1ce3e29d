package providertest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

type fixedNetworks sdk.Networks

func (f fixedNetworks) Networks(context.Context) (sdk.Networks, error) { return sdk.Networks(f), nil }

// shuffling lists its devices in turn order, then reversed.
type shuffling struct {
	devs  []sdk.Device
	calls int
}

func (s *shuffling) Devices(context.Context) ([]sdk.Device, error) {
	s.calls++
	out := append([]sdk.Device(nil), s.devs...)
	if s.calls%2 == 0 {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, nil
}

// TestDeviceChecks: the kit fails networks listed twice or empty, SIM
// countries that are not ISO codes, and devices listed in an unstable
// order, and passes correct answers.
func TestDeviceChecks(t *testing.T) {
	phone := func(id, country string) sdk.Device {
		return sdk.Device{ID: id, Kind: sdk.DevicePhone, SIMs: []sdk.DeviceSIM{{Slot: 1, Country: country}}}
	}
	tests := []struct {
		name string
		run  func(tb, context.Context)
		want string // "" = passes
	}{
		{"networks ok", func(t tb, ctx context.Context) {
			checkNetworks(t, fixedNetworks{Operators: []string{"Ooredoo", "Telenor"}, Countries: []string{"MM"}}, ctx)
		}, ""},
		{"operator twice", func(t tb, ctx context.Context) {
			checkNetworks(t, fixedNetworks{Operators: []string{"Telenor", "Telenor"}, Countries: []string{"MM"}}, ctx)
		}, `operator "Telenor" empty or more than once`},
		{"empty operator", func(t tb, ctx context.Context) {
			checkNetworks(t, fixedNetworks{Operators: []string{""}}, ctx)
		}, `operator "" empty`},
		{"devices ok", func(t tb, ctx context.Context) {
			checkDevices(t, &shuffling{devs: []sdk.Device{phone("a", "MM")}}, ctx)
		}, ""},
		{"sim country", func(t tb, ctx context.Context) {
			checkDevices(t, &shuffling{devs: []sdk.Device{phone("a", "Myanmar")}}, ctx)
		}, `device a has country "Myanmar"`},
		{"unstable order", func(t tb, ctx context.Context) {
			checkDevices(t, &shuffling{devs: []sdk.Device{phone("a", "MM"), phone("b", "MM")}}, ctx)
		}, "in another order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := record("check", func(t tb) { tt.run(t, context.Background()) })
			_, failures := r.log.snapshot()
			switch {
			case tt.want == "" && r.Failed():
				t.Errorf("the kit failed a correct answer: %q", failures)
			case tt.want != "" && !slices.ContainsFunc(failures, func(f string) bool { return strings.Contains(f, tt.want) }):
				t.Errorf("the kit did not fail with %q: %q", tt.want, failures)
			}
		})
	}
}
