// Package providertest is the conformance kit for smsrouter providers: Run
// puts a provider, in process or as a plugin binary, through the behaviour
// the host relies on (settings checks, one result per message, cancellation,
// durable status events, clean shutdown).
//
// A plugin author calls it from an ordinary test:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Target{
//			Name:         "echo",
//			New:          func() sdk.Provider { return newProvider() },
//			Settings:     json.RawMessage(`{"delay":"10ms"}`),
//			BadSettings:  []json.RawMessage{json.RawMessage(`{"delay":"soon"}`)},
//			ExpectEvents: true,
//		})
//	}
//
// Run checks goroutine leaks of in-process providers, so it must not run in
// parallel with other tests of the same binary.
package providertest
