package message

import "fmt"

// DuplicateError refuses a message as a repeat of MessageID: the same text
// to the same recipient from the same account, accepted moments before.
type DuplicateError struct {
	MessageID string
}

func (e *DuplicateError) Error() string {
	return "the same message to the same recipient was accepted moments ago as " + e.MessageID
}

// NotCancellableError says why a message cannot be cancelled: a provider
// has it (or had it) already, or a dispatcher is handing it to one now.
type NotCancellableError struct {
	MessageID string
	// Status is the message's status.
	Status Status
	// Sending is true when a dispatcher holds the message for a send in
	// progress; its outcome decides whether it can still be cancelled.
	Sending bool
}

func (e *NotCancellableError) Error() string {
	if e.Sending {
		return fmt.Sprintf("message %s is being handed to a provider right now; if that fails it can be cancelled again in a few seconds", e.MessageID)
	}
	if !e.Status.Final() {
		return fmt.Sprintf("message %s was already accepted by a provider (status %s); it can no longer be cancelled", e.MessageID, e.Status)
	}
	return fmt.Sprintf("message %s is already final (status %s); only queued or pending messages can be cancelled", e.MessageID, e.Status)
}
