package message_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// The texts are plans as databases hold them, written when the plan kept
// the plugin protocol's refusal type: the host's own type reads and writes
// them byte for byte.
func TestPlanEncodesAndDecodes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		plan []message.PlanEntry
		text string
	}{
		{"plain candidates read as names", []message.PlanEntry{{Provider: "a"}, {Provider: "b"}}, `["a","b"]`},
		{"failover and refusals read as objects",
			[]message.PlanEntry{{Provider: "a", FailoverOn: []message.Refusal{message.RefusalInvalidSender}, Refused: message.RefusalInvalidSender}, {Provider: "b", NotBefore: at}},
			`[{"provider":"a","failover_on":["INVALID_SENDER"],"refused":"INVALID_SENDER"},{"provider":"b","not_before":"2026-01-02T03:04:05Z"}]`},
		{"several refusals keep their order",
			[]message.PlanEntry{{Provider: "a", FailoverOn: []message.Refusal{message.RefusalBlocked, message.RefusalRejected}, Refused: message.RefusalBlocked}, {Provider: "b"}},
			`[{"provider":"a","failover_on":["BLOCKED","REJECTED"],"refused":"BLOCKED"},"b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := message.EncodePlan(tt.plan); got != tt.text {
				t.Errorf("EncodePlan = %s, want %s", got, tt.text)
			}
			if got := message.DecodePlan(tt.text); !reflect.DeepEqual(got, tt.plan) {
				t.Errorf("DecodePlan = %+v, want %+v", got, tt.plan)
			}
		})
	}
	if got := message.DecodePlan("not json"); got != nil {
		t.Errorf("DecodePlan of a broken plan = %v, want none", got)
	}
}
