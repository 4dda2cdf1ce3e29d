// Package hook is the host's view of an HTTP request a provider's upstream
// sends to it (a delivery report, an inbound message) and of the writer
// that answers it, so that core forwards hooks without speaking the plugin
// protocol; core/pluginhost translates both for the provider's plugin.
package hook
