// Package intake is what the service hands to the store when it accepts
// a send: the new messages with their routing plans, the duplicate claims
// and Idempotency-Key answer kept with them, and one-time codes. The store
// maps these to its rows; the service never sees a row.
package intake
