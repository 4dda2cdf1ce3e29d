package sdk

import (
	"testing"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// A host that predates the typed outcomes must still see them as
// TEMPORARY, which it retries, and never as an outcome it rejects.
func TestTypedOutcomesTravelAsTemporary(t *testing.T) {
	tests := []struct {
		res   SendResult
		class string
	}{
		{Expired("m1", "validity passed"), "EXPIRED"},
		{Unavailable("m2", "upstream down"), "UNAVAILABLE"},
		{AccountError("m3", "API key rejected"), "ACCOUNT"},
		{RetryAfter("m4", 0, "throttled"), ""},
	}
	for _, tt := range tests {
		pb := resultsToPB([]SendResult{tt.res})[0]
		if pb.GetOutcome() != pluginpb.Outcome_OUTCOME_TEMPORARY || pb.GetTemporaryClass() != tt.class {
			t.Errorf("%s travels as %s/%q, want TEMPORARY/%q", tt.res.Outcome, pb.GetOutcome(), pb.GetTemporaryClass(), tt.class)
		}
		if back := resultsFromPB([]*pluginpb.SendResult{pb})[0]; back != tt.res {
			t.Errorf("round trip of %+v gave %+v", tt.res, back)
		}
	}
	// A class from a newer plugin that this SDK does not know is still a retry.
	pb := &pluginpb.SendResult{Outcome: pluginpb.Outcome_OUTCOME_TEMPORARY, TemporaryClass: "SOMETHING_NEW"}
	if got := resultsFromPB([]*pluginpb.SendResult{pb})[0].Outcome; got != Temporary {
		t.Errorf("unknown class read as %s, want temporary", got)
	}
}
