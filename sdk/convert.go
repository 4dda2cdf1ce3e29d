package sdk

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The functions below translate between the Go types plugin authors see and
// the wire messages. They are the only place that knows both, so a field
// added to one side and forgotten on the other shows up in one file.

func messagesToPB(msgs []Message) []*pluginpb.Message {
	out := make([]*pluginpb.Message, len(msgs))
	for i, m := range msgs {
		out[i] = &pluginpb.Message{
			Id:         m.ID,
			To:         m.To,
			From:       m.From,
			Text:       m.Text,
			Encoding:   string(m.Encoding),
			Segments:   int32(m.Segments),
			Kind:       m.Kind,
			Metadata:   m.Metadata,
			ValidUntil: timeToPB(m.ValidUntil),
		}
	}
	return out
}

func messagesFromPB(msgs []*pluginpb.Message) []Message {
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = Message{
			ID:         m.GetId(),
			To:         m.GetTo(),
			From:       m.GetFrom(),
			Text:       m.GetText(),
			Encoding:   Encoding(m.GetEncoding()),
			Segments:   int(m.GetSegments()),
			Kind:       m.GetKind(),
			Metadata:   m.GetMetadata(),
			ValidUntil: timeFromPB(m.GetValidUntil()),
		}
	}
	return out
}

func resultsToPB(results []SendResult) []*pluginpb.SendResult {
	out := make([]*pluginpb.SendResult, len(results))
	for i, r := range results {
		outcome, class := pluginpb.Outcome(r.Outcome), ""
		if c, ok := temporaryClass[r.Outcome]; ok {
			outcome, class = pluginpb.Outcome_OUTCOME_TEMPORARY, c
		}
		out[i] = &pluginpb.SendResult{
			MessageId:         r.MessageID,
			Outcome:           outcome,
			TemporaryClass:    class,
			ProviderMessageId: r.ProviderMessageID,
			Code:              r.Code,
			Reason:            r.Reason,
			RetryAfter:        durationToPB(r.RetryAfter),
			Sender:            r.Sender,
			Refusal:           string(r.Refusal),
		}
	}
	return out
}

func resultsFromPB(results []*pluginpb.SendResult) []SendResult {
	out := make([]SendResult, len(results))
	for i, r := range results {
		outcome := Outcome(r.GetOutcome())
		if outcome == Temporary {
			outcome = outcomeOfClass(r.GetTemporaryClass(), r.GetCode())
		}
		out[i] = SendResult{
			MessageID:         r.GetMessageId(),
			Outcome:           outcome,
			ProviderMessageID: r.GetProviderMessageId(),
			Code:              r.GetCode(),
			Reason:            r.GetReason(),
			RetryAfter:        durationFromPB(r.GetRetryAfter()),
			Sender:            r.GetSender(),
			Refusal:           Refusal(r.GetRefusal()),
		}
	}
	return out
}

func durationToPB(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func durationFromPB(d *durationpb.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.AsDuration()
}

func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromPB(t *timestamppb.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.AsTime()
}

func statusEventToPB(s StatusEvent) *pluginpb.StatusEvent {
	return &pluginpb.StatusEvent{
		ProviderMessageId: s.ProviderMessageID,
		Status:            string(s.Status),
		ProviderStatus:    s.ProviderStatus,
		ErrorCode:         s.ErrorCode,
		At:                timeToPB(s.At),
		Recipient:         s.Recipient,
	}
}

func statusEventFromPB(s *pluginpb.StatusEvent) StatusEvent {
	return StatusEvent{
		ProviderMessageID: s.GetProviderMessageId(),
		Status:            Status(s.GetStatus()),
		ProviderStatus:    s.GetProviderStatus(),
		ErrorCode:         s.GetErrorCode(),
		At:                timeFromPB(s.GetAt()),
		Recipient:         s.GetRecipient(),
	}
}

func eventToPB(ev Event) *pluginpb.Event {
	out := &pluginpb.Event{Id: ev.ID, DuplicateWindow: durationToPB(ev.DuplicateWindow)}
	if ev.Status != nil {
		out.Status = statusEventToPB(*ev.Status)
	}
	if in := ev.Inbound; in != nil {
		out.Inbound = &pluginpb.InboundEvent{
			ProviderMessageId: in.ProviderMessageID,
			From:              in.From,
			To:                in.To,
			Text:              in.Text,
			At:                timeToPB(in.At),
		}
	}
	return out
}

// eventFromPB decodes and checks an event, because the host must not store
// what a faulty plugin sends without looking.
func eventFromPB(ev *pluginpb.Event) (Event, error) {
	out := Event{ID: ev.GetId(), DuplicateWindow: durationFromPB(ev.GetDuplicateWindow())}
	if s := ev.GetStatus(); s != nil {
		se := statusEventFromPB(s)
		out.Status = &se
	}
	if in := ev.GetInbound(); in != nil {
		out.Inbound = &InboundEvent{
			ProviderMessageID: in.GetProviderMessageId(),
			From:              in.GetFrom(),
			To:                in.GetTo(),
			Text:              in.GetText(),
			At:                timeFromPB(in.GetAt()),
		}
	}
	if err := validateEvent(out); err != nil {
		return Event{}, err
	}
	return out, nil
}

func eventsFromPB(evs []*pluginpb.Event) ([]Event, error) {
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		ev, err := eventFromPB(e)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// validateEvent enforces the Event contract on both sides of the boundary: in
// the plugin so an author learns of a mistake from emit's error, in the host
// so a faulty plugin cannot store garbage.
// Validate reports what makes ev unacceptable to the host: no ID, neither
// or both of Status and Inbound, a status that is not a normalised one, a
// negative DuplicateWindow.
func (ev Event) Validate() error { return validateEvent(ev) }

func validateEvent(ev Event) error {
	if ev.ID == "" {
		return errors.New("event has no ID: set a stable ID so the host can drop duplicates")
	}
	switch {
	case ev.Status == nil && ev.Inbound == nil:
		return fmt.Errorf("event %q has neither Status nor Inbound set", ev.ID)
	case ev.Status != nil && ev.Inbound != nil:
		return fmt.Errorf("event %q has both Status and Inbound set; emit two events", ev.ID)
	case ev.Status != nil && !ev.Status.Status.Valid():
		return fmt.Errorf("event %q has status %q, which is not one of the normalised statuses", ev.ID, ev.Status.Status)
	case ev.DuplicateWindow < 0:
		return fmt.Errorf("event %q has a negative DuplicateWindow %s", ev.ID, ev.DuplicateWindow)
	}
	return nil
}

func headerToPB(h http.Header) map[string]*pluginpb.HeaderValues {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]*pluginpb.HeaderValues, len(h))
	for k, v := range h {
		out[k] = &pluginpb.HeaderValues{Values: v}
	}
	return out
}

func headerFromPB(h map[string]*pluginpb.HeaderValues) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		out[k] = v.GetValues()
	}
	return out
}

func hookRequestToPB(r *HookRequest) *pluginpb.HookRequest {
	return &pluginpb.HookRequest{
		Method:     r.Method,
		Url:        r.URL,
		Path:       r.Path,
		Header:     headerToPB(r.Header),
		Body:       r.Body,
		RemoteAddr: r.RemoteAddr,
	}
}

func hookRequestFromPB(r *pluginpb.HookRequest) *HookRequest {
	return &HookRequest{
		Method:     r.GetMethod(),
		URL:        r.GetUrl(),
		Path:       r.GetPath(),
		Header:     headerFromPB(r.GetHeader()),
		Body:       r.GetBody(),
		RemoteAddr: r.GetRemoteAddr(),
	}
}
