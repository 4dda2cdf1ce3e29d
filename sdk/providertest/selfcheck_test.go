package providertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

// brokenEnv selects the flaw TestBrokenProvider runs the kit against. The
// kit reports through *testing.T, so a failing run is observed from outside:
// TestKitCatchesBrokenProviders runs this test binary again with it set.
const brokenEnv = "PROVIDERTEST_BROKEN"

func TestKitCatchesBrokenProviders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary once per flaw")
	}
	tests := []struct {
		flaw, failedTest, message string
	}{
		{"short-results", "SendBatch", "returned 9 results"},
		{"accepts-after-cancel", "SendCancelled/before", "want an error or Temporary results"},
		{"empty-provider-id", "SendBatch", "Accepted without a ProviderMessageID"},
		{"accepts-bad-settings", "BadSettings/0", "Configure accepted bad settings"},
		{"drops-refused-events", "Reports", "arrived for 9 of 10"},
		{"leaks-goroutine", "Reports", "goroutines still running after Close"},
	}
	for _, tc := range tests {
		t.Run(tc.flaw, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenProvider$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tc.flaw)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the kit passed a provider that %s (err %v):\n%s", tc.flaw, err, out)
			}
			if want := "--- FAIL: TestBrokenProvider/" + tc.failedTest + " "; !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			if !strings.Contains(string(out), tc.message) {
				t.Errorf("output lacks %q:\n%s", tc.message, out)
			}
		})
	}
}

// TestBrokenProvider runs only when TestKitCatchesBrokenProviders asks; it
// is expected to fail.
func TestBrokenProvider(t *testing.T) {
	flaw := os.Getenv(brokenEnv)
	if flaw == "" {
		t.Skip("run by TestKitCatchesBrokenProviders")
	}
	providertest.Run(t, providertest.Target{
		Name:          "broken",
		New:           func() sdk.Provider { return &brokenProvider{exampleProvider: &exampleProvider{}, flaw: flaw} },
		Settings:      json.RawMessage(`{"prefix":"b-"}`),
		BadSettings:   []json.RawMessage{json.RawMessage(`{"prefix":""}`)},
		ExpectReports: true,
		ReportTimeout: time.Second,
	})
}

// brokenProvider is the example provider with one flaw.
type brokenProvider struct {
	*exampleProvider
	flaw string
}

func (p *brokenProvider) Configure(ctx context.Context, cfg sdk.Config) error {
	err := p.exampleProvider.Configure(ctx, cfg)
	if p.flaw == "accepts-bad-settings" {
		return nil
	}
	return err
}

func (p *brokenProvider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	res, err := p.exampleProvider.Send(context.WithoutCancel(ctx), msgs)
	if err != nil {
		return nil, err
	}
	switch p.flaw {
	case "accepts-after-cancel":
		return res, nil
	case "short-results":
		res = res[:len(res)-1]
	case "empty-provider-id":
		res[0].ProviderMessageID = ""
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	return res, nil
}

func (p *brokenProvider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	switch p.flaw {
	case "leaks-goroutine":
		go func() { select {} }()
	case "drops-refused-events":
		return p.exampleProvider.Events(ctx, func(ctx context.Context, ev sdk.Event) error {
			_ = emit(ctx, ev) // forgets the event whatever the host answered
			return nil
		})
	}
	return p.exampleProvider.Events(ctx, emit)
}
