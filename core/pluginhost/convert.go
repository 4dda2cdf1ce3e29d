package pluginhost

import (
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/sdk"
)

// This file translates between the plugin protocol's words (sdk) and the
// host's own (core/message), so that only the plugin host speaks sdk and a
// change of the protocol is no change of the host's state or schema.

// Status is the host status a plugin's status stands for. The protocol's
// statuses are spelled as the host's stored ones, so the translation is the
// string itself; a status the host does not know stays invalid and is
// refused where the event is stored.
func Status(s sdk.Status) message.Status { return message.Status(s) }

// Refusal is the host refusal a plugin's refusal stands for: the same
// stored word, so plans written before the host had its own type still read.
func Refusal(r sdk.Refusal) message.Refusal { return message.Refusal(r) }

// Report is the host's view of a plugin's delivery report.
func Report(ev sdk.StatusEvent) message.Report {
	return message.Report{ProviderMessageID: ev.ProviderMessageID, Status: Status(ev.Status), ProviderStatus: ev.ProviderStatus,
		ErrorCode: ev.ErrorCode, At: ev.At, Recipient: ev.Recipient}
}

// Inbound is the host's view of an inbound message a plugin reported.
func Inbound(in sdk.InboundEvent) inbound.Message {
	return inbound.Message{ProviderMessageID: in.ProviderMessageID, Sender: in.From, Recipient: in.To, Text: in.Text, ReceivedAt: in.At}
}

// Events is the host's view of events a plugin reported, in their order.
// The reports and inbound messages they point to are allocated together,
// one allocation each for the whole batch rather than one per event.
func Events(evs []sdk.Event) []message.Event {
	switch len(evs) {
	case 0:
		return nil
	case 1:
		return event(evs[0])
	}
	out := make([]message.Event, len(evs))
	var reports []message.Report
	var inbounds []inbound.Message
	for i, ev := range evs {
		out[i] = message.Event{ID: ev.ID, DuplicateWindow: ev.DuplicateWindow}
		switch {
		case ev.Status != nil:
			if reports == nil {
				reports = make([]message.Report, 0, len(evs)-i)
			}
			reports = append(reports, Report(*ev.Status))
			out[i].Report = &reports[len(reports)-1]
		case ev.Inbound != nil:
			if inbounds == nil {
				inbounds = make([]inbound.Message, 0, len(evs)-i)
			}
			inbounds = append(inbounds, Inbound(*ev.Inbound))
			out[i].Inbound = &inbounds[len(inbounds)-1]
		}
	}
	return out
}

// event is Events for one event (every event a plugin streams comes
// alone), with one allocation.
func event(ev sdk.Event) []message.Event {
	one := new(struct {
		evs    [1]message.Event
		report message.Report
		in     inbound.Message
	})
	one.evs[0] = message.Event{ID: ev.ID, DuplicateWindow: ev.DuplicateWindow}
	switch {
	case ev.Status != nil:
		one.report = Report(*ev.Status)
		one.evs[0].Report = &one.report
	case ev.Inbound != nil:
		one.in = Inbound(*ev.Inbound)
		one.evs[0].Inbound = &one.in
	}
	return one.evs[:]
}

// Outgoing is the plugin protocol's message for one the host sends.
func Outgoing(m message.Outgoing) sdk.Message {
	return sdk.Message{ID: m.ID, To: m.To, From: m.From, Text: m.Text, Encoding: sdk.Encoding(m.Encoding),
		Segments: m.Segments, Kind: string(m.Kind), ValidUntil: m.ValidUntil}
}

// outcomes is the host outcome each of the protocol's stands for; an
// outcome the protocol does not define stays the zero Outcome.
var outcomes = [...]message.Outcome{
	sdk.Accepted:            message.OutcomeAccepted,
	sdk.Temporary:           message.OutcomeTemporary,
	sdk.Permanent:           message.OutcomeRefused,
	sdk.OutcomeExpired:      message.OutcomeExpired,
	sdk.OutcomeUnavailable:  message.OutcomeUnavailable,
	sdk.OutcomeAccountError: message.OutcomeAccountError,
}

// OutcomeOf is the host outcome a plugin's outcome stands for; one the
// protocol does not define is the zero Outcome, which the dispatcher
// retries.
func OutcomeOf(o sdk.Outcome) message.Outcome {
	if o < 0 || int(o) >= len(outcomes) {
		return 0
	}
	return outcomes[o]
}

// Result is the host's view of a plugin's answer for one message.
func Result(r sdk.SendResult) message.SendResult {
	return message.SendResult{MessageID: r.MessageID, Outcome: OutcomeOf(r.Outcome), ProviderMessageID: r.ProviderMessageID,
		Code: r.Code, Reason: r.Reason, RetryAfter: r.RetryAfter, Sender: r.Sender, Refusal: Refusal(r.Refusal)}
}

// sendBuffers returns the protocol's batch for n messages and the host's
// results for it. A batch of one, the most common (a provider without
// batches gets one message a call), takes one allocation for both.
func sendBuffers(n int) ([]sdk.Message, []message.SendResult) {
	if n == 1 {
		one := new(struct {
			msg [1]sdk.Message
			res [1]message.SendResult
		})
		return one.msg[:], one.res[:]
	}
	return make([]sdk.Message, n), make([]message.SendResult, n)
}
