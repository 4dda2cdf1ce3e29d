package message

import (
	"fmt"
	"strings"
	"time"
)

// Report is a provider telling the host what became of a message it
// accepted (a delivery report), as the host keeps it.
type Report struct {
	// ProviderMessageID is the provider's id for the message, which finds
	// the message the report is about.
	ProviderMessageID string
	// Status is the status the provider reports.
	Status Status
	// ProviderStatus is the provider's own word for it ("DELIVRD").
	ProviderStatus string
	// ErrorCode is the provider's or network's error code, if any.
	ErrorCode string
	// At is when the provider says the status was reached, by its clock;
	// zero when it does not say.
	At time.Time
	// Recipient is the number the message went to, as the report gives it,
	// or "": providers that reuse ids give it so that the right message of
	// several with one id takes the report.
	Recipient string
}

// FailureText is the error message a report of a failure leaves on its
// message: the status with the provider's word and code for it.
func (r Report) FailureText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider reported %s", r.Status)
	if r.ProviderStatus != "" {
		fmt.Fprintf(&b, " (%s", r.ProviderStatus)
		if r.ErrorCode != "" {
			fmt.Fprintf(&b, ", error %s", r.ErrorCode)
		}
		b.WriteString(")")
	} else if r.ErrorCode != "" {
		fmt.Fprintf(&b, " (error %s)", r.ErrorCode)
	}
	return b.String()
}

// ReportedAt is when a message counts as having reached a reported status:
// when the host learnt of the report, but never before the message was sent.
// An early report (learnt before the provider's answer to the send was
// recorded, and held until then) thereby keeps the message's times in the
// order things happened: sent, then delivered or failed.
func ReportedAt(learnt time.Time, sentAt *time.Time) time.Time {
	if sentAt != nil && learnt.Before(*sentAt) {
		return *sentAt
	}
	return learnt
}
