package pluginhost_test

import (
	"context"
	"errors"
	"testing"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/sdk"
)

// queryingProvider answers both queries: every id it is asked about is
// delivered, and of the messages only "took" was accepted under an id.
type queryingProvider struct{ *fakeProvider }

func (p queryingProvider) QueryStatus(_ context.Context, ids []string) ([]sdk.StatusEvent, error) {
	out := make([]sdk.StatusEvent, len(ids))
	for i, id := range ids {
		out[i] = sdk.StatusEvent{ProviderMessageID: id, Status: sdk.StatusDelivered, ProviderStatus: "DELIVRD"}
	}
	return out, nil
}

func (p queryingProvider) QuerySent(_ context.Context, ids []string) ([]sdk.SendResult, error) {
	return []sdk.SendResult{
		{MessageID: "took", Outcome: sdk.Accepted, ProviderMessageID: "up-1", Code: "0"},
		{MessageID: "no-id", Outcome: sdk.Accepted},
		{MessageID: "refused", Outcome: sdk.Permanent, ProviderMessageID: "up-2"},
	}, nil
}

// The host answers dispatch's questions in its own words: capabilities a
// plugin both declares and implements, reports as message.Report, and of a
// QuerySent only the messages the provider took under an id of its own.
func TestQueriesInHostTypes(t *testing.T) {
	tests := []struct {
		name     string
		provider sdk.Provider
		want     pluginhost.Capabilities
	}{
		{name: "without queries", provider: newFakeProvider(), want: pluginhost.Capabilities{MaxBatchSize: 5}},
		{name: "with both queries", provider: queryingProvider{newFakeProvider()},
			want: pluginhost.Capabilities{MaxBatchSize: 5, StatusQuery: true, SentQuery: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustStart(t, pluginhost.Options{}, pluginhost.Spec{Name: "mem", InProcess: tt.provider})
			caps, err := h.Capabilities("mem")
			if err != nil || caps != tt.want {
				t.Fatalf("Capabilities = %+v, %v; want %+v", caps, err, tt.want)
			}
			reports, err := h.QueryStatus(t.Context(), "mem", []string{"up-1"})
			sent, sentErr := h.QuerySent(t.Context(), "mem", []string{"took", "no-id", "refused", "unknown"})
			if !tt.want.StatusQuery {
				if !errors.Is(err, pluginhost.ErrNotSupported) || !errors.Is(sentErr, pluginhost.ErrNotSupported) {
					t.Errorf("queries of a provider without them: %v, %v; want ErrNotSupported", err, sentErr)
				}
				return
			}
			if err != nil || len(reports) != 1 || reports[0] != (message.Report{ProviderMessageID: "up-1", Status: message.Delivered, ProviderStatus: "DELIVRD"}) {
				t.Errorf("QueryStatus = %+v, %v; want up-1 delivered", reports, err)
			}
			if sentErr != nil || len(sent) != 1 || sent[0] != (pluginhost.Sent{MessageID: "took", ProviderMessageID: "up-1", Code: "0"}) {
				t.Errorf("QuerySent = %+v, %v; want only took, as up-1", sent, sentErr)
			}
		})
	}
	h := mustStart(t, pluginhost.Options{}, pluginhost.Spec{Name: "mem", InProcess: newFakeProvider()})
	if _, err := h.Capabilities("nope"); !errors.Is(err, pluginhost.ErrUnknownProvider) {
		t.Errorf("Capabilities of an unknown provider: %v, want ErrUnknownProvider", err)
	}
}
