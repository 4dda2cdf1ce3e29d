package providertest

import (
	"context"
	"testing"
)

// tb is what the kit reports through: the part of *testing.T it uses, with
// Run taking a tb so that the kit's own self-check can run it against a
// recording reporter and see every failure it reports.
type tb interface {
	Helper()
	Name() string
	Context() context.Context
	Cleanup(func())
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	FailNow()
	Failed() bool
	Skipf(format string, args ...any)
	Run(name string, f func(tb)) bool
}

// testingT adapts *testing.T to tb.
type testingT struct{ *testing.T }

func (t testingT) Run(name string, f func(tb)) bool {
	return t.T.Run(name, func(t *testing.T) { f(testingT{t}) })
}
