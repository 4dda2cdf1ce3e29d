package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/sdk"
)

// The device, number, network and tuning capabilities, for admins,
// routing and the number inventory.

// Errors a capability's answer may wrap, under the host's names; they are
// the sdk's values, so they match across the plugin protocol.
var (
	// ErrDeviceNotFound: RevokeDevice was given an id the provider does not know.
	ErrDeviceNotFound = sdk.ErrDeviceNotFound
	// ErrInvalidTune: Tune was given an unknown tunable or a bad value.
	ErrInvalidTune = sdk.ErrInvalidTune
)

// factsTimeout bounds one ask for a provider's networks or devices.
const factsTimeout = 5 * time.Second

// refreshFacts asks the provider for its networks and devices, keeping the
// last answers when it cannot say now.
func (s *supervised) refreshFacts(ctx context.Context, prov sdk.Provider, caps sdk.Capabilities) {
	if nr, ok := prov.(sdk.NetworkReporter); ok && caps.Networks {
		fctx, cancel := context.WithTimeout(ctx, factsTimeout)
		n, err := nr.Networks(fctx)
		cancel()
		if err == nil {
			s.set(func() {
				if !slices.Equal(n.Operators, s.networks.Operators) || !slices.Equal(n.Countries, s.networks.Countries) {
					s.host.signalChange()
				}
				s.networks = n
			})
		} else if ctx.Err() == nil {
			s.log.Warn("could not read the provider's networks; keeping the last known", "error", err)
		}
	}
	if dr, ok := prov.(sdk.DeviceReporter); ok && caps.Devices {
		s.refreshDevices(ctx, dr)
	}
}

func (s *supervised) refreshDevices(ctx context.Context, dr sdk.DeviceReporter) {
	fctx, cancel := context.WithTimeout(ctx, factsTimeout)
	defer cancel()
	devs, err := dr.Devices(fctx)
	if err == nil {
		s.setDevices(devs)
	} else if ctx.Err() == nil {
		s.log.Warn("could not list the provider's devices; keeping the last known", "error", err)
	}
}

// capable returns the named provider as I when it is running and both
// declares the capability (has) and implements it; otherwise an error
// wrapping ErrUnknownProvider, ErrUnavailable or ErrNotSupported.
func capable[I any](h *Host, name, what string, has func(sdk.Capabilities) bool) (I, *supervised, error) {
	var zero I
	s, err := h.get(name)
	if err != nil {
		return zero, nil, err
	}
	p, caps, err := s.current()
	if err != nil {
		return zero, nil, err
	}
	i, ok := p.(I)
	if !ok || !has(caps) {
		return zero, nil, fmt.Errorf("provider %s %s: %w", name, what, ErrNotSupported)
	}
	return i, s, nil
}

// Devices asks the named provider for its phones or modem ports now.
func (h *Host) Devices(ctx context.Context, name string) ([]provider.Device, error) {
	dr, s, err := capable[sdk.DeviceReporter](h, name, "has no devices to list", func(c sdk.Capabilities) bool { return c.Devices })
	if err != nil {
		return nil, err
	}
	devs, err := dr.Devices(ctx)
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", name, err)
	}
	return s.setDevices(devs), nil
}

// RevokeDevice makes the named provider forget a device and its token; an
// unknown id wraps ErrDeviceNotFound.
func (h *Host) RevokeDevice(ctx context.Context, name, id string) error {
	dr, s, err := capable[sdk.DeviceRevoker](h, name, "cannot revoke devices", func(c sdk.Capabilities) bool { return c.Revoke })
	if err != nil {
		return err
	}
	if err := dr.RevokeDevice(ctx, id); err != nil {
		return fmt.Errorf("revoke device %s of %s: %w", id, name, err)
	}
	s.log.Info("device revoked", "device", id)
	if r, ok := any(dr).(sdk.DeviceReporter); ok {
		s.refreshDevices(ctx, r)
	}
	return nil
}

// NumberListers names the running providers that list the numbers they
// receive on (sdk.NumberLister), sorted.
func (h *Host) NumberListers() []string {
	var out []string
	for _, name := range h.Names() {
		if s, err := h.get(name); err == nil {
			if _, caps, err := s.current(); err == nil && caps.Numbers {
				out = append(out, name)
			}
		}
	}
	return out
}

// ProviderNumbers asks the named provider for the numbers it receives on.
func (h *Host) ProviderNumbers(ctx context.Context, name string) ([]numbers.Listed, error) {
	nl, _, err := capable[sdk.NumberLister](h, name, "lists no numbers", func(c sdk.Capabilities) bool { return c.Numbers })
	if err != nil {
		return nil, err
	}
	nums, err := nl.Numbers(ctx)
	if err != nil {
		return nil, fmt.Errorf("numbers of %s: %w", name, err)
	}
	out := make([]numbers.Listed, len(nums))
	for i, n := range nums {
		out[i] = numbers.Listed{Number: n.Number, Country: n.Country, CanSend: n.CanSend}
	}
	return out, nil
}

// Tune changes the named provider's tunables while it runs (see
// sdk.Tuner) and checks its health before it returns, so routing sees a
// rehearsed outage at once, not at the next check. Bad changes wrap
// ErrInvalidTune and change nothing.
func (h *Host) Tune(ctx context.Context, name string, changes map[string]string) (map[string]string, error) {
	t, s, err := capable[sdk.Tuner](h, name, "cannot be tuned", func(c sdk.Capabilities) bool { return c.Tune })
	if err != nil {
		return nil, err
	}
	values, err := t.Tune(ctx, changes)
	if err != nil {
		return nil, fmt.Errorf("tune %s: %w", name, err)
	}
	if len(changes) > 0 {
		s.log.Info("provider tuned", "changes", changes)
		s.checkNow(ctx)
	}
	return values, nil
}

// checkNow reads the provider's health, networks and devices outside the
// periodic checks.
func (s *supervised) checkNow(ctx context.Context) {
	p, caps, err := s.current()
	if err != nil {
		return
	}
	if hc, ok := p.(sdk.HealthChecker); ok && caps.Health {
		hctx, cancel := context.WithTimeout(ctx, factsTimeout)
		h, err := hc.Health(hctx)
		cancel()
		if err == nil {
			s.setHealth(h)
		}
	}
	s.refreshFacts(ctx, p, caps)
}

// FactsChanged is signalled (at most one waiting signal) when a provider's
// health turns, or the networks or devices it reports change: the number
// inventory then reads its numbers again without waiting for its period.
func (h *Host) FactsChanged() <-chan struct{} { return h.changed }

func (h *Host) signalChange() {
	select {
	case h.changed <- struct{}{}:
	default: // one is waiting already
	}
}

func (s *supervised) setHealth(h sdk.Health) {
	s.set(func() {
		if h.OK != s.health.OK {
			s.host.signalChange()
		}
		s.health = h
	})
}

// setDevices keeps devs, in the host's words, and signals a change when the
// devices or their SIMs' numbers differ (not on every ping that moves
// last_seen). It returns what it kept.
func (s *supervised) setDevices(list []sdk.Device) []provider.Device {
	devs := Devices(list)
	s.set(func() {
		if !sameDevices(devs, s.devices) {
			s.host.signalChange()
		}
		s.devices = devs
	})
	return devs
}

func sameDevices(a, b []provider.Device) bool {
	return slices.EqualFunc(a, b, func(x, y provider.Device) bool {
		return x.ID == y.ID && x.Online == y.Online && slices.EqualFunc(x.SIMs, y.SIMs, func(p, q provider.SIM) bool { return p.Number == q.Number })
	})
}

// IsNotSupported reports whether err says the provider lacks the capability.
func IsNotSupported(err error) bool {
	return errors.Is(err, ErrNotSupported) || errors.Is(err, sdk.ErrUnsupported)
}
