package providertest

import (
	"os/exec"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// pluginProcess is the part of a launched plugin the kit uses.
type pluginProcess interface {
	Provider() sdk.Provider
	PID() int
	Kill()
	Exited() bool
	Done() <-chan struct{}
}

// launch starts a plugin binary the way the host does and connects to it.
func launch(cmd *exec.Cmd, logger hclog.Logger, startTimeout time.Duration) (pluginProcess, error) {
	p, err := sdk.Launch(cmd, sdk.LaunchOptions{Logger: logger, StartTimeout: startTimeout})
	if err != nil {
		return nil, err
	}
	return p, nil
}
