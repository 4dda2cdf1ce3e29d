package providertest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
	"github.com/smsrouter/smsrouter/sdk/providertest/internal/flawed"
)

// TestExample is how a plugin author runs the conformance kit: describe the
// provider (in process here; set Command instead of New to test the built
// binary), a configuration it accepts and some it must refuse.
func TestExample(t *testing.T) {
	providertest.Run(t, providertest.Target{
		Name:     "example",
		New:      func() sdk.Provider { return flawed.NewQueue(flawed.None) },
		Settings: json.RawMessage(`{"prefix":"ex-"}`),
		BadSettings: []json.RawMessage{
			json.RawMessage(`{"prefix":""}`),
			json.RawMessage(`{"prefx":"ex-"}`),
		},
		ExpectReports: true,
		ReportTimeout: 5 * time.Second,
	})
}

// TestExampleUpstream runs the target of ExampleUpstream.
func TestExampleUpstream(t *testing.T) {
	providertest.Run(t, upstreamTarget())
}
