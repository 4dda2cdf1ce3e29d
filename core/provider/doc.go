// Package provider holds the host's words for what a running provider
// reports of itself beyond sending: its account's balance, the senders it
// may use, the messages a sandbox kept, and its phones or modem ports. The
// plugin host translates the plugin protocol's types to these
// (core/pluginhost/convert.go), so that the API renders them without
// speaking the protocol.
package provider
