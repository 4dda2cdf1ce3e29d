// Package webhook sends applications their events: it claims due deliveries
// from the store's webhook outbox in batches, POSTs each event's JSON signed
// with the account's secret, and records every attempt, retrying failures
// with exponential backoff and jitter until a day has passed.
//
// A message's events are sent in order: the store only hands out the oldest
// undelivered event of a message, so event k+1 waits until event k was
// delivered or given up. Delivery is at least once: a receiver that answers
// too late, or a server that dies mid-request, sees the event again, with the
// same X-Event-Id.
package webhook
