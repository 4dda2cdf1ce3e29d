// Package pluginhost runs one plugin process per configured provider,
// supervises it (health checks, relaunch with capped backoff, crash-loop
// state), keeps its event stream open, and offers the provider to the rest of
// core as an sdk.Provider that never outlives the host.
package pluginhost
