package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// devices asks a provider with devices of its own (phones, modem ports)
// what the host will show and route on: its devices, the numbers it puts
// into the inventory, the networks routing's provider_operators reads, and
// its tunables. Every call only reads; an error fails the check, as the
// host would keep its last answer and never show the plugin's.
func (c *pluginCheck) devices(ctx context.Context, p sdk.Provider) {
	caps := sdk.CapabilitiesOf(p)
	ctx, cancel := context.WithTimeout(ctx, checkCallTimeout)
	defer cancel()
	if dr, ok := p.(sdk.DeviceReporter); ok && caps.Devices {
		devs, err := dr.Devices(ctx)
		c.step("devices", err, "%s", describeDevices(devs))
	}
	if nl, ok := p.(sdk.NumberLister); ok && caps.Numbers {
		nums, err := nl.Numbers(ctx)
		list := make([]string, len(nums))
		for i, n := range nums {
			list[i] = n.Number
		}
		c.step("numbers", err, "%d: %s", len(nums), orNone(list))
	}
	if nr, ok := p.(sdk.NetworkReporter); ok && caps.Networks {
		n, err := nr.Networks(ctx)
		c.step("networks", err, "operators %s, countries %s", orNone(n.Operators), orNone(n.Countries))
	}
	if tu, ok := p.(sdk.Tuner); ok && caps.Tune {
		vals, err := tu.Tune(ctx, map[string]string{})
		c.step("tunables", err, "%s", describeTunables(vals))
	}
}

// describeDevices is "2, 1 online: p1 rack1-a (phone, online), ...".
func describeDevices(devs []sdk.Device) string {
	online := 0
	parts := make([]string, len(devs))
	for i, d := range devs {
		state := "offline"
		if d.Online {
			online++
			state = "online"
		}
		parts[i] = fmt.Sprintf("%s %s (%s, %s)", d.ID, d.Name, d.Kind, state)
	}
	return fmt.Sprintf("%d, %d online: %s", len(devs), online, orNone(parts))
}

func describeTunables(vals map[string]string) string {
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + vals[k]
	}
	return orNone(keys)
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}
