// Package message is the host's own model of an SMS an application asked
// it to send: the statuses a message goes through and the forward-only
// rules that move it, the outcome of each attempt to send it, the reports
// providers send about it, and the errors that refuse or keep it.
//
// The stored status strings are the ones of this package; the plugin
// protocol's words (package sdk) are translated at the plugin boundary
// (core/pluginhost), so a change of the protocol is no schema change.
//
// # Late and early reports
//
// A message only moves forward (Status.MovesTo): queued or pending, then
// sent, then unknown, then a final status. A late report, one that does not
// move the message further (a "sent" after "delivered", a second final
// status), changes nothing but the message's history, where it is kept as
// not applied. An early report, one that arrives before the provider's
// answer to the send was recorded (an SMPP receipt can beat its own
// submit_sm_resp), is held until that answer lands and then applied as if
// learnt at the time the message was sent (ReportedAt), so that a
// message's times follow one another.
package message
