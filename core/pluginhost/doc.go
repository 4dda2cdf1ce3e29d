// Package pluginhost runs one plugin process per configured provider,
// supervises it (health checks, relaunch with capped backoff, crash-loop
// state), keeps its event stream open, and offers the provider to the rest of
// core as an sdk.Provider that never outlives the host. It is where the
// host talks to plugins: convert.go translates the protocol's words (sdk)
// into the host's own (core/message), and the host holds plugins to the
// Send contract (one result per message, in order).
package pluginhost
