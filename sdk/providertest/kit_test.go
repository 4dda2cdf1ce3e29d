package providertest

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

// TestNewKitRefusesTargets: a target with neither or both of New and
// Command is refused with what to change. The guide's binary test copies an
// in-process target, so "both" is the mistake an author makes.
func TestNewKitRefusesTargets(t *testing.T) {
	newP := func() sdk.Provider { return nil }
	cmd := func() *exec.Cmd { return exec.Command("true") }
	tests := []struct {
		name   string
		target Target
		want   string
	}{
		{"no name", Target{New: newP}, "Target.Name is empty"},
		{"neither", Target{Name: "x"}, "set one of Target.New"},
		{"both", Target{Name: "x", New: newP, Command: cmd}, "both set; set exactly one (for the binary, set New to nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newKit(tt.target)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("newKit = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
