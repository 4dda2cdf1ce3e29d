// Package dispatch moves accepted messages to providers: it claims due
// messages in batches, groups them per provider, sends them through the
// plugin host, and records each attempt, failing over along the message's
// plan and retrying with backoff when a provider cannot take them.
package dispatch
