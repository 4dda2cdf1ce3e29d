package sdk_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

// The device, number, network and tuning capabilities cross the plugin
// protocol with every field, and their sentinel errors survive it.

func TestDeviceCapabilitiesOverTheWire(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	caps := sdk.CapabilitiesOf(prov)
	if !caps.Numbers || !caps.Devices || !caps.Revoke || !caps.Networks || !caps.Tune {
		t.Fatalf("capabilities = %+v, want numbers, devices, revoke, networks and tune", caps)
	}

	nums, err := prov.(sdk.NumberLister).Numbers(ctx)
	wantNums := []sdk.ReceivingNumber{{Number: "+959123456789", CanSend: true}, {Number: "12345", Country: "MM"}}
	if err != nil || !reflect.DeepEqual(nums, wantNums) {
		t.Errorf("Numbers = %+v, %v; want %+v", nums, err, wantNums)
	}

	nets, err := prov.(sdk.NetworkReporter).Networks(ctx)
	wantNets := sdk.Networks{Operators: []string{"Telenor", "Ooredoo"}, Countries: []string{"MM"}}
	if err != nil || !reflect.DeepEqual(nets, wantNets) {
		t.Errorf("Networks = %+v, %v; want %+v", nets, err, wantNets)
	}

	devs, err := prov.(sdk.DeviceReporter).Devices(ctx)
	battery, signal := 80, -71
	wantDevs := []sdk.Device{
		{ID: "ph-1", Name: "Pixel", Kind: sdk.DevicePhone, Online: true, LastSeen: at, Battery: &battery, Charging: true,
			InFlight: 2, SentToday: 17, SIMs: []sdk.DeviceSIM{{Slot: 1, Number: "+959123456789", Operator: "Telenor", Country: "MM"}}},
		{ID: "ttyUSB0", Name: "/dev/ttyUSB0", Kind: sdk.DeviceModemPort, IMEI: "490154203237518", IMSI: "414061234567890",
			Operator: "Ooredoo", Country: "MM", Signal: &signal, Registration: sdk.RegistrationRoaming, Detail: "ready"},
	}
	if err != nil || !reflect.DeepEqual(devs, wantDevs) {
		t.Errorf("Devices = %s, %v; want %s", dump(devs), err, dump(wantDevs))
	}
}

func TestRevokeDeviceOverTheWire(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	rv := prov.(sdk.DeviceRevoker)

	err := rv.RevokeDevice(ctx, "nope")
	if !errors.Is(err, sdk.ErrDeviceNotFound) || errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("RevokeDevice(unknown) error = %v, want one wrapping only ErrDeviceNotFound", err)
	}
	if err := rv.RevokeDevice(ctx, "ph-1"); err != nil {
		t.Fatalf("RevokeDevice(ph-1): %v", err)
	}
	devs, err := prov.(sdk.DeviceReporter).Devices(ctx)
	if err != nil || len(devs) != 1 || devs[0].ID != "ttyUSB0" {
		t.Errorf("Devices after revoking ph-1 = %s, %v; want only ttyUSB0", dump(devs), err)
	}
}

func TestTuneOverTheWire(t *testing.T) {
	ctx := testCtx(t)
	prov := launch(t, sdk.LaunchOptions{}).Provider()
	tuner := prov.(sdk.Tuner)

	_, err := tuner.Tune(ctx, map[string]string{"speed": "11"})
	if !errors.Is(err, sdk.ErrInvalidTune) || errors.Is(err, sdk.ErrUnavailable) {
		t.Errorf("Tune(unknown) error = %v, want one wrapping only ErrInvalidTune", err)
	}
	got, err := tuner.Tune(ctx, map[string]string{})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"health": "up"}) {
		t.Errorf("Tune(read) = %v, %v; want health = up", got, err)
	}
	got, err = tuner.Tune(ctx, map[string]string{"health": "down"})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"health": "down"}) {
		t.Errorf("Tune(health=down) = %v, %v; want health = down", got, err)
	}
	h, err := prov.(sdk.HealthChecker).Health(ctx)
	want := sdk.Health{OK: false, Detail: "tuned down", RefuseWhileDown: true}
	if err != nil || h != want {
		t.Errorf("Health after tuning down = %+v, %v; want %+v", h, err, want)
	}
}

// A provider in the host's process reports its capabilities by the
// interfaces it implements.
func TestCapabilitiesOfInProcessDeviceProvider(t *testing.T) {
	caps := sdk.CapabilitiesOf(deviceProvider{})
	if !caps.Devices || !caps.Revoke || !caps.Networks || !caps.Tune || caps.Numbers {
		t.Errorf("CapabilitiesOf = %+v, want devices, revoke, networks and tune only", caps)
	}
}

type deviceProvider struct{ sdk.Provider }

func (deviceProvider) Info() sdk.Info                                 { return sdk.Info{Name: "d"} }
func (deviceProvider) Devices(context.Context) ([]sdk.Device, error)  { return nil, nil }
func (deviceProvider) RevokeDevice(context.Context, string) error     { return nil }
func (deviceProvider) Networks(context.Context) (sdk.Networks, error) { return sdk.Networks{}, nil }
func (deviceProvider) Tune(context.Context, map[string]string) (map[string]string, error) {
	return nil, nil
}
