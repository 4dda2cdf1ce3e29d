package modem_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

// The ports as operators, the numbers inventory and routing see them: a
// registered port with its SIM's identity and network, an unregistered one
// listed but offline and left out of the networks.
func TestPortsAsDevicesNumbersAndNetworks(t *testing.T) {
	home := modemtest.New(t, modemtest.Options{IMSI: "414090000000001", Operator: "ATOM", OperatorCode: "41409", Signal: 20})
	other := modemtest.New(t, modemtest.Options{OwnNumber: "+4790000002", Operator: "Telia", OperatorCode: "24202"})
	h := start(t, fast(map[string]any{"path": home.Path(), "number": "+959790000001"}, other.Path()))
	h.ready(t, 2)
	other.SetRegistration(2)
	h.waitHealth(t, "the second port searching", func(hl sdk.Health) bool { return !portReady(hl, other.Path()) })
	ctx := context.Background()

	devs, err := h.p.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]sdk.Device{}
	for _, d := range devs {
		byName[d.Name] = d
	}
	d := byName[home.Path()]
	if d.Kind != sdk.DeviceModemPort || !d.Online || d.ID != home.Path() || d.IMEI != "356938035643809" ||
		d.IMSI != "414090000000001" || d.Operator != "ATOM" || d.Registration != sdk.RegistrationHome ||
		d.Signal == nil || *d.Signal != -73 || d.LastSeen.IsZero() || len(d.SIMs) != 1 || d.SIMs[0].Number != "+959790000001" {
		t.Errorf("registered port = %+v", d)
	}
	if d.Country != "MM" {
		t.Errorf("country %q, want MM (from the configured number)", d.Country)
	}
	if d := byName[other.Path()]; d.Online || d.Registration != sdk.RegistrationSearching || d.Country != "NO" {
		t.Errorf("searching port = %+v", d)
	}

	nums, err := h.p.Numbers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nums {
		got = append(got, n.Number)
		if !n.CanSend {
			t.Errorf("number %+v: a port sends from its own number", n)
		}
	}
	slices.Sort(got)
	if want := []string{"+4790000002", "+959790000001"}; !slices.Equal(got, want) {
		t.Errorf("numbers %v, want %v", got, want)
	}

	nets, err := h.p.Networks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(nets.Operators, []string{"ATOM"}) || !slices.Equal(nets.Countries, []string{"MM"}) {
		t.Errorf("networks %+v, want only the registered port's ATOM/MM", nets)
	}
}

func portReady(hl sdk.Health, path string) bool {
	d := portDetail(hl, path)
	return d != "" && !strings.Contains(d, "searching")
}
