// Package sdk is what a provider plugin author imports: the message and event
// types, the Provider interface with its optional capability interfaces, and
// Serve, which turns a Provider into a plugin binary the smsrouter host can run.
//
// A plugin is an ordinary Go program:
//
//	func main() { sdk.Serve(&myProvider{}) }
//
// The host talks to every provider through the same Go interfaces defined here,
// whether the provider runs in the host's process (tests), as a built-in plugin
// or as an external binary, so a provider that passes sdk/providertest in
// process behaves the same behind the plugin boundary.
//
// The optional capabilities are found by type assertion (CapabilitiesOf):
// EventSource, HookHandler, HealthChecker, BalanceReporter, SenderIDLister,
// StatusQuerier, SentQuerier, OutboxReader, Tuner and SettingsValidator;
// and, for a provider that sends through devices of its own (phones, modem
// ports), DeviceReporter, DeviceRevoker, NumberLister and NetworkReporter,
// with Health.RefuseWhileDown (Example_devices). The guide for plugin
// authors, docs/plugins.md in the smsrouter repository, says when the host
// calls each and what it does with the answer.
//
// The package deliberately imports nothing from the smsrouter host and none of
// gin, gorm or expr: a plugin binary carries only what it needs.
package sdk
