// Package phonetest simulates phones running the "SMS Gateway for Android"
// app in private-server mode, speaking its mobile API to a base URL exactly
// as the app does: registration with the private token (or PATCH /device
// after a restart), the SSE stream, pulls on every notification, PATCHes with
// per-recipient states and the cumulative states history, signed webhooks
// (sms:sent, sms:delivered, sms:failed, sms:received, system:ping), and the
// faults real phones bring: lost connectivity, reconnects, replayed PATCHes,
// and phones that go silent or power off in the middle of a message.
//
// Tests wait on signals (Received, WaitFor and its helpers), never on sleeps.
package phonetest
