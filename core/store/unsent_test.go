package store

import (
	"slices"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/message"
)

// The store's queries for unsent messages name exactly the statuses core
// calls unsent, so that the rule stays core's.
func TestUnsentQueriesAreCoresRule(t *testing.T) {
	for _, st := range message.Statuses() {
		if got := slices.Contains(unsentStatuses, string(st)); got != st.Unsent() {
			t.Errorf("unsentStatuses has %s: %v, but %s.Unsent() = %v", st, got, st, st.Unsent())
		}
		if got := strings.Contains(stillUnsent, "'"+string(st)+"'"); got != st.Unsent() {
			t.Errorf("stillUnsent (%s) names %s: %v, but %s.Unsent() = %v", stillUnsent, st, got, st, st.Unsent())
		}
	}
}
