// Package retention forgets, every few minutes, what only costs space once
// its time has passed: expired idempotency records and duplicate claims,
// spent rate windows and OTP codes, and finished webhook deliveries and
// provider event ids past their retention. Every server runs it; the
// store's deletes skip each other.
package retention
