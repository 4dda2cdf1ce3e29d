// Package dispatch moves accepted messages to providers: it claims due
// messages in batches, groups them per provider, sends them through the
// plugin host, and records each attempt, failing over along the message's
// plan and retrying with backoff when a provider cannot take them.
//
// It owns what it needs of the database as small interfaces (Queue,
// ReportStore, Heartbeater) and the types they carry (Message,
// PollMark, QueueDepth); *store.Store implements them, and cmd/smsrouter
// hands it in. The package imports no store.
package dispatch
