package modem_test

import (
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/modem"
	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

var plugins providertest.Builder

func conformanceTarget(t *testing.T) providertest.Target {
	a := modemtest.New(t, modemtest.Options{ReportDelay: 5 * time.Millisecond})
	b := modemtest.New(t, modemtest.Options{ReportDelay: 5 * time.Millisecond})
	raw, err := json.Marshal(fast(a.Path(), b.Path()))
	if err != nil {
		t.Fatal(err)
	}
	return providertest.Target{
		Name:     "modem",
		Settings: raw,
		BadSettings: []json.RawMessage{
			json.RawMessage(`{}`),
			json.RawMessage(`{"ports":["/dev/ttyUSB0"],"baud":12345}`),
			json.RawMessage(`{"ports":["/dev/ttyUSB0"],"pin":"12"}`),
			json.RawMessage(`{"ports":["/dev/ttyUSB0"],"prts":[]}`),
		},
		ExpectReports: true,
		ReportTimeout: 5 * time.Second,
	}
}

func TestConformance(t *testing.T) {
	target := conformanceTarget(t)
	target.New = func() sdk.Provider { return modem.New() }
	providertest.Run(t, target)
}

func TestConformanceBinary(t *testing.T) {
	bin := plugins.Build(t, "./testdata/modemplugin")
	target := conformanceTarget(t)
	target.Command = func() *exec.Cmd { return exec.Command(bin) }
	providertest.Run(t, target)
}
