package android_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/android/phonetest"
	"github.com/smsrouter/smsrouter/sdk"
)

// The phones as operators, the numbers inventory and routing see them,
// and a revoked phone gone from all three.
func TestPhonesAsDevicesNumbersAndNetworks(t *testing.T) {
	g := newGateway(t, "")
	a := g.simulated(t, phonetest.Options{Name: "phone-a", SIMs: []phonetest.SIM{
		{Number: "+959790000001", Operator: "ATOM", Country: "mm"}, {Number: "+959250000002", Operator: "MPT", Country: "mm"}}})
	b := g.simulated(t, phonetest.Options{Name: "phone-b", SIMs: []phonetest.SIM{{Number: "+4790000003", Operator: "Telenor", Country: "no"}}})
	ctx := context.Background()

	devs, err := g.p.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Name != "phone-a" || devs[1].Name != "phone-b" {
		t.Fatalf("devices %+v, want phone-a and phone-b by name", devs)
	}
	d := devs[0]
	if d.ID != a.Identity().ID || d.Kind != sdk.DevicePhone || !d.Online || d.LastSeen.IsZero() || len(d.SIMs) != 2 ||
		d.SIMs[0] != (sdk.DeviceSIM{Slot: 1, Number: "+959790000001", Operator: "ATOM", Country: "MM"}) {
		t.Errorf("phone-a = %+v", d)
	}

	nums, err := g.p.Numbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nums {
		got = append(got, n.Number)
	}
	slices.Sort(got)
	if want := []string{"+4790000003", "+959250000002", "+959790000001"}; !slices.Equal(got, want) {
		t.Errorf("numbers %v, want %v", got, want)
	}

	nets, err := g.p.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nets.Operators, []string{"ATOM", "MPT", "Telenor"}) || !slices.Equal(nets.Countries, []string{"MM", "NO"}) {
		t.Errorf("networks %+v", nets)
	}

	b.Close() // or it would register again with the private token, as the app does
	if err := g.p.RevokeDevice(ctx, b.Identity().ID); err != nil {
		t.Fatal(err)
	}
	if err := g.p.RevokeDevice(ctx, b.Identity().ID); !errors.Is(err, sdk.ErrDeviceNotFound) {
		t.Errorf("revoking it again: %v, want ErrDeviceNotFound", err)
	}
	devs, _ = g.p.Devices(ctx)
	nets, _ = g.p.Networks(ctx)
	if len(devs) != 1 || devs[0].Name != "phone-a" || slices.Contains(nets.Countries, "NO") {
		t.Errorf("after revoking phone-b: devices %+v, networks %+v", devs, nets)
	}
}
