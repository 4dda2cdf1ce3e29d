package pluginhost_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
)

// simPool is an in-process provider with phones: Tune "sims" sets how many
// one-SIM phones it has, and "health" whether it is up.
type simPool struct {
	mu   sync.Mutex
	sims int
	down bool
}

func (p *simPool) Info() sdk.Info                              { return sdk.Info{Name: "simpool", MaxBatchSize: 1} }
func (p *simPool) Configure(context.Context, sdk.Config) error { return nil }
func (p *simPool) Close(context.Context) error                 { return nil }
func (p *simPool) Send(context.Context, []sdk.Message) ([]sdk.SendResult, error) {
	return nil, errors.New("unused")
}

func (p *simPool) Health(context.Context) (sdk.Health, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return sdk.Health{OK: !p.down, RefuseWhileDown: true}, nil
}

func (p *simPool) number(i int) string { return fmt.Sprintf("+95912345%04d", i) }

func (p *simPool) Devices(context.Context) ([]sdk.Device, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []sdk.Device
	for i := range p.sims {
		out = append(out, sdk.Device{ID: fmt.Sprint("ph-", i), Kind: sdk.DevicePhone, Online: true,
			SIMs: []sdk.DeviceSIM{{Slot: 1, Number: p.number(i), Operator: "Telenor", Country: "MM"}}})
	}
	return out, nil
}

func (p *simPool) Numbers(ctx context.Context) ([]sdk.ReceivingNumber, error) {
	devs, _ := p.Devices(ctx)
	var out []sdk.ReceivingNumber
	for _, d := range devs {
		out = append(out, sdk.ReceivingNumber{Number: d.SIMs[0].Number, CanSend: true})
	}
	return out, nil
}

func (p *simPool) Networks(context.Context) (sdk.Networks, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sims == 0 {
		return sdk.Networks{}, nil
	}
	return sdk.Networks{Operators: []string{"Telenor"}, Countries: []string{"MM"}}, nil
}

func (p *simPool) RevokeDevice(_ context.Context, id string) error {
	return fmt.Errorf("%s: %w", id, sdk.ErrDeviceNotFound)
}

func (p *simPool) Tune(_ context.Context, changes map[string]string) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range changes {
		switch k {
		case "sims":
			fmt.Sscan(v, &p.sims)
		case "health":
			p.down = v == "down"
		default:
			return nil, fmt.Errorf("%s: %w", k, sdk.ErrInvalidTune)
		}
	}
	return map[string]string{"sims": fmt.Sprint(p.sims)}, nil
}

// awaitChange checks the host's facts-changed signal was given.
func awaitChange(t *testing.T, h *pluginhost.Host, what string) {
	t.Helper()
	select {
	case <-h.FactsChanged():
	case <-time.After(10 * time.Second):
		t.Fatalf("no facts-changed signal after %s", what)
	}
}

// TestDeviceFactsReachTheStatus: a provider's devices, networks, numbers and
// refusal reach the host's status and callers, a change to them is
// signalled, and its sentinel errors keep their meaning.
func TestDeviceFactsReachTheStatus(t *testing.T) {
	pool := &simPool{sims: 1}
	h := mustStart(t, pluginhost.Options{HealthInterval: time.Hour},
		pluginhost.Spec{Name: "phones", InProcess: pool}, pluginhost.Spec{Name: "mem", InProcess: &echoProvider{}})
	ctx := t.Context()
	// The first devices and networks are read as the provider starts.
	var st pluginhost.ProviderStatus
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st, _ = h.Status("phones"); len(st.Devices) == 1 && len(st.Countries) == 1 {
			break
		}
	}
	if len(st.Devices) != 1 || !reflect.DeepEqual(st.Operators, []string{"Telenor"}) || !reflect.DeepEqual(st.Countries, []string{"MM"}) {
		t.Fatalf("status %+v, want one phone on Telenor MM", st)
	}
	if got := h.NumberListers(); !reflect.DeepEqual(got, []string{"phones"}) {
		t.Errorf("NumberListers = %v, want [phones]", got)
	}
	nums, err := h.ProviderNumbers(ctx, "phones")
	if err != nil || !reflect.DeepEqual(nums, []numbers.Listed{{Number: "+959123450000", CanSend: true}}) {
		t.Errorf("ProviderNumbers = %+v, %v", nums, err)
	}

	select { // the start's signal
	case <-h.FactsChanged():
	default:
	}
	// Tuned: a second phone and the pool down. Tune checks at once.
	if _, err := h.Tune(ctx, "phones", map[string]string{"sims": "2", "health": "down"}); err != nil {
		t.Fatal(err)
	}
	awaitChange(t, h, "tune")
	st, _ = h.Status("phones")
	if len(st.Devices) != 2 || st.Healthy || !st.RefuseWhileDown {
		t.Errorf("status after tuning %+v, want two phones, unhealthy and refusing", st)
	}

	if err := h.RevokeDevice(ctx, "phones", "ph-9"); !errors.Is(err, pluginhost.ErrDeviceNotFound) {
		t.Errorf("RevokeDevice(unknown) = %v, want ErrDeviceNotFound", err)
	}
	if _, err := h.Tune(ctx, "phones", map[string]string{"speed": "1"}); !errors.Is(err, pluginhost.ErrInvalidTune) {
		t.Errorf("Tune(unknown) = %v, want ErrInvalidTune", err)
	}
	if _, err := h.Tune(ctx, "mem", nil); !pluginhost.IsNotSupported(err) {
		t.Errorf("Tune on a provider without it = %v, want not supported", err)
	}
	if _, err := h.ProviderNumbers(ctx, "nope"); !errors.Is(err, pluginhost.ErrUnknownProvider) {
		t.Errorf("ProviderNumbers(nope) = %v, want ErrUnknownProvider", err)
	}
}
