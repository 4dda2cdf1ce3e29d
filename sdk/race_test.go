//go:build race

package sdk_test

// raceEnabled builds the test plugin with the race detector too, so the
// plugin side of the boundary (outbox, hook writer) is checked as well.
const raceEnabled = true
