// Command testplugin is a plugin whose misbehaviour the host's tests choose
// through its settings: refuse its configuration, or die shortly after
// being configured, the way a plugin with a fatal bug crash-loops.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

func main() {
	sdk.Serve(&provider{})
}

// settings is {"reject": "why"} or {"exit_after": "150ms"}.
type settings struct {
	// Reject, when set, is the error Configure returns.
	Reject string `json:"reject"`
	// ExitAfter, when set, makes the process exit with status 3 this long
	// after Configure returned: long enough for the host to see the launch
	// succeed, short enough to fail long before any stability threshold.
	ExitAfter string `json:"exit_after"`
}

type provider struct{}

func (p *provider) Info() sdk.Info {
	return sdk.Info{Name: "testplugin", Version: "0.0.1", MaxBatchSize: 10}
}

func (p *provider) Configure(_ context.Context, cfg sdk.Config) error {
	var s settings
	dec := json.NewDecoder(bytes.NewReader(cfg.Settings))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("testplugin settings: %w", err)
	}
	if s.Reject != "" {
		return errors.New(s.Reject)
	}
	if s.ExitAfter != "" {
		d, err := time.ParseDuration(s.ExitAfter)
		if err != nil {
			return fmt.Errorf("testplugin setting exit_after: %w", err)
		}
		time.AfterFunc(d, func() { os.Exit(3) })
	}
	return nil
}

func (p *provider) Send(_ context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		out[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: "test-" + m.ID}
	}
	return out, nil
}

func (p *provider) Close(context.Context) error { return nil }
