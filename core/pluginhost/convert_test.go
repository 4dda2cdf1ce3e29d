package pluginhost_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
)

// Every status a plugin may report is a host status with the same stored
// string: the protocol and the database spell them alike.
func TestStatusTranslatesEveryPluginStatus(t *testing.T) {
	every := []sdk.Status{sdk.StatusQueued, sdk.StatusSent, sdk.StatusDelivered, sdk.StatusFailed,
		sdk.StatusExpired, sdk.StatusRejected, sdk.StatusUndeliverable, sdk.StatusUnknown,
		sdk.StatusPending} //nolint:staticcheck // deprecated, but a plugin may still send it
	for _, s := range every {
		if got := pluginhost.Status(s); string(got) != string(s) || !got.Valid() {
			t.Errorf("Status(%q) = %q (valid %v), want the same string, valid", s, got, got.Valid())
		}
	}
	if got := pluginhost.Status("bogus"); got.Valid() {
		t.Errorf("Status(bogus) = %q is valid, want invalid so the store refuses it", got)
	}
}

// Every refusal a plugin may give is a host refusal with the same stored
// word, and the host knows no refusal the protocol lacks.
func TestRefusalTranslatesEveryPluginRefusal(t *testing.T) {
	var got []message.Refusal
	for _, r := range sdk.Refusals() {
		got = append(got, pluginhost.Refusal(r))
		if string(got[len(got)-1]) != string(r) {
			t.Errorf("Refusal(%q) = %q, want the same word", r, got[len(got)-1])
		}
	}
	if !reflect.DeepEqual(got, message.Refusals()) {
		t.Errorf("host refusals %q, want the protocol's %q", message.Refusals(), got)
	}
}

func TestEventsKeepEveryField(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	report := sdk.Event{ID: "r1", DuplicateWindow: time.Hour, Status: &sdk.StatusEvent{ProviderMessageID: "p1", Status: sdk.StatusUndeliverable,
		ProviderStatus: "UNDELIV", ErrorCode: "34", At: at, Recipient: "959123456789"}}
	mo := sdk.Event{ID: "i1", Inbound: &sdk.InboundEvent{ProviderMessageID: "mo1", From: "+959123456789", To: "12345", Text: "STOP", At: at}}
	wantReport := message.Event{ID: "r1", DuplicateWindow: time.Hour, Report: &message.Report{ProviderMessageID: "p1", Status: message.Undeliverable,
		ProviderStatus: "UNDELIV", ErrorCode: "34", At: at, Recipient: "959123456789"}}
	wantInbound := message.Event{ID: "i1", Inbound: &inbound.Message{ProviderMessageID: "mo1", Sender: "+959123456789", Recipient: "12345", Text: "STOP", ReceivedAt: at}}
	tests := []struct {
		name string
		in   []sdk.Event
		want []message.Event
	}{
		{"none", nil, nil},
		{"one report", []sdk.Event{report}, []message.Event{wantReport}},
		{"one inbound message", []sdk.Event{mo}, []message.Event{wantInbound}},
		{"a batch, in order", []sdk.Event{report, mo, report}, []message.Event{wantReport, wantInbound, wantReport}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pluginhost.Events(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Events = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// Every answer a plugin can build is the host result the dispatcher acts
// on: the protocol's outcomes, codes, waits and refusals reach it intact.
func TestResultTranslatesEveryOutcome(t *testing.T) {
	tests := []struct {
		name string
		in   sdk.SendResult
		want message.SendResult
	}{
		{"accepted", sdk.SendResult{MessageID: "m", Outcome: sdk.Accepted, ProviderMessageID: "p1", Code: "0", Sender: "MyShop"},
			message.SendResult{MessageID: "m", Outcome: message.OutcomeAccepted, ProviderMessageID: "p1", Code: "0", Sender: "MyShop"}},
		{"retry after", sdk.RetryAfter("m", time.Minute, "throttled").WithCode("429"),
			message.SendResult{MessageID: "m", Outcome: message.OutcomeTemporary, RetryAfter: time.Minute, Code: "429", Reason: "throttled"}},
		{"unavailable", sdk.Unavailable("m", "upstream down"),
			message.SendResult{MessageID: "m", Outcome: message.OutcomeUnavailable, Reason: "upstream down"}},
		{"account error", sdk.AccountError("m", "API key rejected"),
			message.SendResult{MessageID: "m", Outcome: message.OutcomeAccountError, Reason: "API key rejected", Refusal: message.RefusalUnauthorized}},
		{"expired", sdk.Expired("m", "validity passed"),
			message.SendResult{MessageID: "m", Outcome: message.OutcomeExpired, Code: "EXPIRED", Reason: "validity passed"}},
		{"refused with a class", sdk.SendResult{MessageID: "m", Outcome: sdk.Permanent, Code: "0x0A", Reason: "sender", Refusal: sdk.RefusalInvalidSender},
			message.SendResult{MessageID: "m", Outcome: message.OutcomeRefused, Code: "0x0A", Reason: "sender", Refusal: message.RefusalInvalidSender}},
		{"refused without a class", sdk.SendResult{MessageID: "m", Outcome: sdk.Permanent},
			message.SendResult{MessageID: "m", Outcome: message.OutcomeRefused}},
		{"no outcome", sdk.SendResult{MessageID: "m"}, message.SendResult{MessageID: "m"}},
		{"an outcome the protocol lacks", sdk.SendResult{MessageID: "m", Outcome: 99}, message.SendResult{MessageID: "m"}},
		{"a negative outcome", sdk.SendResult{MessageID: "m", Outcome: -1}, message.SendResult{MessageID: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pluginhost.Result(tt.in); got != tt.want {
				t.Errorf("Result(%+v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
	if got := pluginhost.Result(sdk.SendResult{Outcome: sdk.Permanent}).RefusalOf(); got != message.RefusalRejected {
		t.Errorf("a refusal without a class reads as %q, want %q", got, message.RefusalRejected)
	}
}

// Every outcome the protocol defines has a host outcome of the same name,
// so that a new one cannot slip through as a retry unnoticed.
func TestOutcomeOfCoversTheProtocol(t *testing.T) {
	for o := sdk.Accepted; o <= sdk.OutcomeAccountError; o++ {
		got := pluginhost.OutcomeOf(o)
		want := o.String()
		if o == sdk.Permanent {
			want = "refused"
		}
		if got.String() != want {
			t.Errorf("OutcomeOf(%s) = %s, want %s", o, got, want)
		}
	}
	if got := pluginhost.OutcomeOf(sdk.OutcomeAccountError + 1); got.String() != "invalid" {
		t.Errorf("OutcomeOf(an unknown outcome) = %s, want invalid", got)
	}
}

// A message the host sends reaches the plugin with every field.
func TestOutgoingKeepsEveryField(t *testing.T) {
	until := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := message.Outgoing{ID: "msg_1", To: "+959123456789", From: "MyShop", Text: "Mingalaba", Encoding: "ucs2",
		Segments: 2, Kind: message.KindOTP, ValidUntil: until}
	want := sdk.Message{ID: "msg_1", To: "+959123456789", From: "MyShop", Text: "Mingalaba", Encoding: sdk.EncodingUCS2,
		Segments: 2, Kind: "otp", ValidUntil: until}
	if got := pluginhost.Outgoing(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Outgoing = %+v, want %+v", got, want)
	}
}

// Sending a batch converts it to the protocol and its results back in two
// allocations, whatever the batch's size: the dispatcher sends every
// message through here, and its cost must not grow per message.
func TestSendConvertsABatchInTwoAllocations(t *testing.T) {
	for _, n := range []int{1, 2, 100} {
		h, msgs := startEcho(t, n)
		allocs := testing.AllocsPerRun(50, func() {
			if _, err := h.Send(t.Context(), "echo", msgs); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 2 {
			t.Errorf("Send of %d messages: %v allocations, want at most 2", n, allocs)
		}
	}
}

// Each result lands with its own message, and a batch's results do not
// share memory with another batch's.
func TestSendBuffersKeepBatchesApart(t *testing.T) {
	h, msgs := startEcho(t, 3)
	first, err := h.Send(t.Context(), "echo", msgs)
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.Send(t.Context(), "echo", msgs[:2])
	if err != nil {
		t.Fatal(err)
	}
	second[0].ProviderMessageID = "changed"
	for i, r := range first {
		if r.MessageID != msgs[i].ID || r.ProviderMessageID != "p-"+msgs[i].ID || r.Outcome != message.OutcomeAccepted {
			t.Errorf("result %d = %+v, want message %s accepted as p-%s", i, r, msgs[i].ID, msgs[i].ID)
		}
	}
	if len(second) != 2 {
		t.Errorf("second batch has %d results, want 2", len(second))
	}
}

func BenchmarkSend(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h, msgs := startEcho(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Send(b.Context(), "echo", msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// startEcho runs an in-process provider that accepts every message with
// results made once, so that only the host's conversion allocates, and
// returns n messages for it.
func startEcho(tb testing.TB, n int) (*pluginhost.Host, []message.Outgoing) {
	tb.Helper()
	msgs := make([]message.Outgoing, n)
	results := make([]sdk.SendResult, n)
	for i := range msgs {
		msgs[i] = message.Outgoing{ID: fmt.Sprintf("m%d", i), To: "+959123456789", Text: "hi", Segments: 1}
		results[i] = sdk.SendResult{MessageID: msgs[i].ID, Outcome: sdk.Accepted, ProviderMessageID: "p-" + msgs[i].ID}
	}
	h := pluginhost.New(pluginhost.Options{})
	if err := h.Start(tb.Context(), []pluginhost.Spec{{Name: "echo", InProcess: &echoProvider{results: results}}}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(h.Stop)
	return h, msgs
}

type echoProvider struct{ results []sdk.SendResult }

func (p *echoProvider) Info() sdk.Info                              { return sdk.Info{Name: "echo", MaxBatchSize: 100} }
func (p *echoProvider) Configure(context.Context, sdk.Config) error { return nil }
func (p *echoProvider) Close(context.Context) error                 { return nil }
func (p *echoProvider) Send(_ context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	return p.results[:len(msgs)], nil
}
