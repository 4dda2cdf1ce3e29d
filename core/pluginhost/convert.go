package pluginhost

import (
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/sdk"
)

// This file translates between the plugin protocol's words (sdk) and the
// host's own (core/message, core/provider), so that only the plugin host speaks sdk and a
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
// results for it: two allocations per batch, whatever its size (never one
// per message). Carving both from one block would save one allocation per
// batch at the price of unsafe pointer arithmetic the garbage collector
// must be trusted with; a batch costs a plugin round trip, so that is not
// worth it.
func sendBuffers(n int) ([]sdk.Message, []message.SendResult) {
	if n == 0 {
		return nil, nil
	}
	return make([]sdk.Message, n), make([]message.SendResult, n)
}

// Balance is the host's view of a provider account's credit.
func Balance(b sdk.Balance) provider.Balance {
	return provider.Balance{Amount: b.Amount, Currency: b.Currency}
}

// SenderIDs is the host's view of the senders a provider listed; a kind
// the provider did not give stays empty.
func SenderIDs(ids []sdk.SenderID) []provider.SenderID {
	if ids == nil {
		return nil
	}
	out := make([]provider.SenderID, len(ids))
	for i, s := range ids {
		out[i] = provider.SenderID{Value: s.Value, Kind: message.SenderKind(s.Kind)}
	}
	return out
}

// OutboxMessages is the host's view of the messages a sandbox kept.
func OutboxMessages(msgs []sdk.OutboxMessage) []provider.OutboxMessage {
	if msgs == nil {
		return nil
	}
	out := make([]provider.OutboxMessage, len(msgs))
	for i, m := range msgs {
		out[i] = provider.OutboxMessage{MessageID: m.MessageID, ProviderMessageID: m.ProviderMessageID, To: m.To, From: m.From,
			Text: m.Text, Kind: message.Kind(m.Kind), Segments: m.Segments, SentAt: m.SentAt}
	}
	return out
}

// Devices is the host's view of a provider's phones or modem ports; nil
// stays nil (the provider listed none, or was never asked).
func Devices(devs []sdk.Device) []provider.Device {
	if devs == nil {
		return nil
	}
	out := make([]provider.Device, len(devs))
	for i, d := range devs {
		out[i] = provider.Device{ID: d.ID, Name: d.Name, Kind: provider.DeviceKind(d.Kind), Online: d.Online, LastSeen: d.LastSeen,
			Battery: d.Battery, Charging: d.Charging, InFlight: d.InFlight, SentToday: d.SentToday, SIMs: sims(d.SIMs),
			IMEI: d.IMEI, IMSI: d.IMSI, Operator: d.Operator, Country: d.Country, Signal: d.Signal,
			Registration: provider.Registration(d.Registration), Detail: d.Detail}
	}
	return out
}

func sims(in []sdk.DeviceSIM) []provider.SIM {
	if in == nil {
		return nil
	}
	out := make([]provider.SIM, len(in))
	for i, s := range in {
		out[i] = provider.SIM{Slot: s.Slot, Number: s.Number, Operator: s.Operator, Country: s.Country}
	}
	return out
}

// Features is the host's view of what a plugin said of itself at start.
func Features(c sdk.Capabilities) provider.Features {
	return provider.Features{Plugin: c.Name, Version: c.Version, MaxBatchSize: c.MaxBatchSize, Events: c.Events, Hooks: c.Hooks,
		Health: c.Health, Balance: c.Balance, SenderIDs: c.SenderIDs, StatusQuery: c.StatusQuery, Outbox: c.Outbox,
		SentQuery: c.SentQuery, Numbers: c.Numbers, Devices: c.Devices, RevokeDevice: c.Revoke, Tune: c.Tune,
		Networks: c.Networks, SettingsValidation: c.SettingsValidation}
}
