package sdk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/smsrouter/smsrouter/sdk"
)

// shouty is a complete provider: it accepts every message to a +1 number and
// refuses the rest for good. A real plugin's main is just
//
//	func main() { sdk.Serve(&shouty{}) }
type shouty struct {
	prefix string
}

func (p *shouty) Info() sdk.Info {
	return sdk.Info{Name: "shouty", Version: "1.0.0", MaxBatchSize: 50}
}

func (p *shouty) Configure(ctx context.Context, cfg sdk.Config) error {
	var s struct {
		Prefix string `json:"prefix"`
	}
	if err := sdk.DecodeSettings(cfg.Settings, &s); err != nil {
		return fmt.Errorf("provider %s: %w", cfg.Name, err)
	}
	if s.Prefix == "" {
		return fmt.Errorf("provider %s: %w", cfg.Name, sdk.BadSetting("prefix", "required"))
	}
	cfg.Log().Debug("configured", "prefix", s.Prefix)
	p.prefix = s.Prefix
	return nil
}

func (p *shouty) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		out[i] = sdk.SendResult{MessageID: m.ID}
		if !strings.HasPrefix(m.To, "+1") {
			out[i].Outcome, out[i].Code, out[i].Reason = sdk.Permanent, "NO_ROUTE", "only +1 numbers"
			continue
		}
		out[i].Outcome, out[i].ProviderMessageID = sdk.Accepted, p.prefix+m.ID
	}
	return out, nil
}

func (p *shouty) Close(ctx context.Context) error { return nil }

// Health makes shouty a sdk.HealthChecker; the host discovers that by itself.
func (p *shouty) Health(ctx context.Context) (sdk.Health, error) {
	return sdk.Health{OK: true, Detail: "always fine"}, nil
}

// A provider is a value implementing sdk.Provider plus the capability
// interfaces it supports. The host uses it through these same interfaces,
// whether it runs in process or behind sdk.Serve in its own binary.
func Example() {
	var p sdk.Provider = &shouty{}
	caps := sdk.CapabilitiesOf(p)
	fmt.Printf("%s %s: batch %d, health %t, events %t\n", caps.Name, caps.Version, caps.MaxBatchSize, caps.Health, caps.Events)

	err := p.Configure(context.Background(), sdk.Config{Name: "shouty-1", Settings: json.RawMessage(`{"prefx":"x"}`)})
	fmt.Println(err)
	_ = p.Configure(context.Background(), sdk.Config{Name: "shouty-1", Settings: json.RawMessage(`{"prefix":"sh-"}`)})

	res, _ := p.Send(context.Background(), []sdk.Message{
		{ID: "msg_1", To: "+14155550100", Text: "hi"},
		{ID: "msg_2", To: "+959123456789", Text: "hi"},
	})
	for _, r := range res {
		fmt.Printf("%s %s id=%q reason=%q\n", r.MessageID, r.Outcome, r.ProviderMessageID, r.Reason)
	}
	// Output:
	// shouty 1.0.0: batch 50, health true, events false
	// provider shouty-1: setting prefx: unknown setting (the top-level settings are prefix)
	// msg_1 accepted id="sh-msg_1" reason=""
	// msg_2 permanent id="" reason="only +1 numbers"
}
