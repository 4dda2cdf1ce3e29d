// Package hook is the host's view of a request a provider's upstream sends
// to it (a delivery report, an inbound message, a phone holding a stream
// open) and of the answer to it, in the host's own types, so that core
// forwards hooks without speaking HTTP or the plugin protocol: the server
// adapts its HTTP request and response to them, and core/pluginhost
// translates them for the provider's plugin.
package hook
