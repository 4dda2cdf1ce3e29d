package message

import (
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
)

// Event is what a provider reports outside a send, as the host stores it:
// exactly one of Report and Inbound is set (an inbound message as the
// provider reported it: no id or account yet). ID identifies the event among
// the provider's, so that one reported again changes nothing.
type Event struct {
	ID      string
	Report  *Report
	Inbound *inbound.Message
	// DuplicateWindow, when not zero, is how long another event with the
	// same ID counts as a repeat of this one (its ID is made from its
	// content, which may legitimately come again); zero: for the host's
	// whole retention of event ids.
	DuplicateWindow time.Duration
}
