// Package outbox is what the webhook outbox's two sides share: the store,
// which writes each event's delivery in the transaction that makes the event
// true, and the deliverer, which sends it. It holds the event types, a
// delivery as a deliverer holds it, the result of an attempt, and the rules
// both sides follow: which event a message's move to a status causes
// (EventTypeFor), a message's events go out in order, and which new
// deliveries an event transaction hands straight to the deliverer in this
// process (Choose) instead of leaving them for claims.
package outbox
