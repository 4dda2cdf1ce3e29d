// Package providertest is the conformance kit for smsrouter providers: Run
// puts a provider, in process or as a plugin binary, through what the host
// relies on, and fails the test on each mistake it finds.
//
// It checks settings (bad ones refused with a message, Send before
// Configure refused), one well-formed result per message in order, a
// resend of the same message, cancellation, optional capabilities (health,
// balance with a currency, sender ids, status queries), hooks, delivery
// reports, and that Close leaves no goroutine or process behind.
//
// A provider that calls an HTTP API sets Target.Upstream: the kit then
// plays the API with a fake that answers as scripted (taken, refused,
// throttled with Retry-After, unavailable, slow until cancelled) and checks
// the result each answer becomes. The author only says how an answer looks
// in the API's words (Upstream.Answer).
//
// A provider that takes hooks gives recorded requests (Target.Hooks): the
// kit checks the answer and the events, that events are emitted before the
// response starts, that a forged request is refused, and that odd requests
// do not panic. The kit serves hooks on a loopback address and passes it as
// Config.HookURL (presented under Target.HookURL when set), so callbacks
// from the upstream reach HandleHook as they would reach the host.
//
// A plugin author calls it from an ordinary test:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, providertest.Target{
//			Name:          "echo",
//			New:           func() sdk.Provider { return newProvider() },
//			Settings:      json.RawMessage(`{"delay":"10ms"}`),
//			BadSettings:   []json.RawMessage{json.RawMessage(`{"delay":"soon"}`)},
//			ExpectReports: true,
//		})
//	}
//
// Run checks goroutine leaks of in-process providers, so it must not run in
// parallel with other tests of the same binary.
package providertest
