package sdk

import "time"

// Expired is the result for a message the provider did not submit because
// its validity (Message.ValidUntil) passed while the provider held it. The
// host records the message expired. Code is "EXPIRED".
func Expired(messageID, reason string) SendResult {
	return SendResult{MessageID: messageID, Outcome: OutcomeExpired, Code: "EXPIRED", Reason: reason}
}

// RetryAfter is the result for a message the upstream could not take now
// and asked to be sent again no sooner than after d (an HTTP 429 or 503 with
// Retry-After, an SMPP throttling error). The host sends the message on to
// the route's next provider at once, and comes back to this one no sooner
// than d. Set Code to the upstream's own code.
func RetryAfter(messageID string, d time.Duration, reason string) SendResult {
	return SendResult{MessageID: messageID, Outcome: Temporary, RetryAfter: max(d, 0), Reason: reason}
}

// Unavailable is the result for a message the provider could not send
// because it cannot send anything now (the upstream is down, the connection
// was lost before the message went out). The host sends the message on to
// the route's next provider. Set Code to the upstream's own code, if any.
func Unavailable(messageID, reason string) SendResult {
	return SendResult{MessageID: messageID, Outcome: OutcomeUnavailable, Reason: reason}
}

// AccountError is the result for a message the upstream refused because of
// the provider's account, not the message: a rejected API key or password,
// a suspended account, no credit left. The host sends the message on to the
// route's next provider and reports this one unhealthy with reason, which
// operators read: say what to fix ("API key rejected (HTTP 401)"), never
// the secret itself.
func AccountError(messageID, reason string) SendResult {
	return SendResult{MessageID: messageID, Outcome: OutcomeAccountError, Refusal: RefusalUnauthorized, Reason: reason}
}

// WithCode returns r with Code set to the upstream's own code ("429",
// "0x00000058", "21211"), which operators read beside the reason. It
// chains onto the constructors, so a result is one expression:
//
//	sdk.RetryAfter(m.ID, wait, "throttled by the upstream").WithCode("429")
func (r SendResult) WithCode(code string) SendResult {
	r.Code = code
	return r
}

// temporaryClass is how the outcomes a TEMPORARY result narrows to travel
// on the wire (pluginpb.SendResult.temporary_class): a host that predates
// them still sees TEMPORARY and retries.
var temporaryClass = map[Outcome]string{
	OutcomeExpired:      "EXPIRED",
	OutcomeUnavailable:  "UNAVAILABLE",
	OutcomeAccountError: "ACCOUNT",
}

// outcomeOfClass reads a TEMPORARY result's class back; an unknown class
// (a newer plugin) is plain Temporary. A plugin that predates the classes
// answered an expired message Temporary with Code "EXPIRED", as the SDK
// told it to, which still means expired.
func outcomeOfClass(class, code string) Outcome {
	for o, c := range temporaryClass {
		if c == class {
			return o
		}
	}
	if class == "" && code == "EXPIRED" {
		return OutcomeExpired
	}
	return Temporary
}
