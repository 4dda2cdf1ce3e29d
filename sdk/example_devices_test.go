package sdk_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/smsrouter/smsrouter/sdk"
)

// rack is a provider that sends through phones of its own, one SIM each: it
// reports them as devices, their numbers for the inventory, the networks
// of the online ones for routing, and asks the host to refuse sends while
// no phone is online. Send, Configure and Close are as in any provider.
type rack struct {
	mu     sync.Mutex
	phones []rackPhone
}

type rackPhone struct {
	id, number, operator, country string
	online                        bool
}

func (r *rack) Info() sdk.Info                              { return sdk.Info{Name: "rack", Version: "1.0.0"} }
func (r *rack) Configure(context.Context, sdk.Config) error { return nil }
func (r *rack) Close(context.Context) error                 { return nil }

// Send would hand each message to an online phone; this example has none to talk to.
func (r *rack) Send(_ context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		out[i] = sdk.Unavailable(m.ID, "no phone to talk to in this example")
	}
	return out, nil
}

// Health is down while no phone is online; RefuseWhileDown makes the host
// answer a send with no other candidate 503 "No gateway online" at once.
func (r *rack) Health(context.Context) (sdk.Health, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	online := 0
	for _, p := range r.phones {
		if p.online {
			online++
		}
	}
	return sdk.Health{OK: online > 0, Detail: fmt.Sprintf("%d of %d phones online", online, len(r.phones)), RefuseWhileDown: true}, nil
}

// Devices lists every phone, online or not, in a stable order.
func (r *rack) Devices(context.Context) ([]sdk.Device, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]sdk.Device, len(r.phones))
	for i, p := range r.phones {
		out[i] = sdk.Device{ID: p.id, Name: p.id, Kind: sdk.DevicePhone, Online: p.online,
			SIMs: []sdk.DeviceSIM{{Slot: 1, Number: p.number, Operator: p.operator, Country: p.country}}}
	}
	return out, nil
}

// RevokeDevice forgets a phone; an unknown id wraps sdk.ErrDeviceNotFound,
// which the admin API answers 404.
func (r *rack) RevokeDevice(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.phones, func(p rackPhone) bool { return p.id == id })
	if i < 0 {
		return fmt.Errorf("phone %q: %w", id, sdk.ErrDeviceNotFound)
	}
	r.phones = slices.Delete(r.phones, i, i+1)
	return nil
}

// Numbers lists every phone's number, online or not: a number left out is
// retired from the inventory once nobody holds it.
func (r *rack) Numbers(context.Context) ([]sdk.ReceivingNumber, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]sdk.ReceivingNumber, len(r.phones))
	for i, p := range r.phones {
		out[i] = sdk.ReceivingNumber{Number: p.number, Country: p.country, CanSend: true}
	}
	return out, nil
}

// Networks lists the networks of the online phones only, each once and
// sorted, with operator names as the numbering plan writes them (what
// `smsrouter route explain --to NUMBER` shows as operator).
func (r *rack) Networks(context.Context) (sdk.Networks, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n sdk.Networks
	for _, p := range r.phones {
		if p.online {
			n.Operators = append(n.Operators, p.operator)
			n.Countries = append(n.Countries, p.country)
		}
	}
	slices.Sort(n.Operators)
	slices.Sort(n.Countries)
	n.Operators, n.Countries = slices.Compact(n.Operators), slices.Compact(n.Countries)
	return n, nil
}

// A provider with devices of its own implements the device capabilities
// next to sdk.Provider; the host finds them by itself, as CapabilitiesOf
// shows. The conformance kit (sdk/providertest) calls each of them.
func Example_devices() {
	ctx := context.Background()
	r := &rack{phones: []rackPhone{
		{"ph-1", "+959790000001", "Telenor", "MM", true},
		{"ph-2", "+959970000002", "Ooredoo", "MM", false},
	}}
	caps := sdk.CapabilitiesOf(r)
	fmt.Printf("devices %t, revoke %t, numbers %t, networks %t\n", caps.Devices, caps.Revoke, caps.Numbers, caps.Networks)

	devs, _ := r.Devices(ctx)
	for _, d := range devs {
		fmt.Printf("%s online=%t sim=%s %s\n", d.ID, d.Online, d.SIMs[0].Number, d.SIMs[0].Operator)
	}
	nums, _ := r.Numbers(ctx)
	fmt.Println("numbers:", len(nums))
	nets, _ := r.Networks(ctx)
	fmt.Println("networks:", nets.Operators, nets.Countries)

	fmt.Println(r.RevokeDevice(ctx, "ph-9"))
	_ = r.RevokeDevice(ctx, "ph-1")
	h, _ := r.Health(ctx)
	fmt.Printf("ok=%t %s, refuse while down %t\n", h.OK, h.Detail, h.RefuseWhileDown)
	// Output:
	// devices true, revoke true, numbers true, networks true
	// ph-1 online=true sim=+959790000001 Telenor
	// ph-2 online=false sim=+959970000002 Ooredoo
	// numbers: 2
	// networks: [Telenor] [MM]
	// phone "ph-9": no such device
	// ok=false 0 of 1 phones online, refuse while down true
}
