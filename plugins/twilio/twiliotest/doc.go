// Package twiliotest is a fake Twilio-style REST API for tests: it accepts
// Messages sends with basic auth, answers with sids or injected errors, and
// later posts correctly signed status callbacks to each send's
// StatusCallback; it can also post signed inbound messages.
package twiliotest
