package core_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/provider"
	"github.com/smsrouter/smsrouter/core/providerstats"
	"github.com/smsrouter/smsrouter/routing"
)

type statuses map[string]pluginhost.ProviderStatus

func (s statuses) Status(name string) (pluginhost.ProviderStatus, bool) {
	st, ok := s[name]
	return st, ok
}

func TestLiveState(t *testing.T) {
	stats := providerstats.New(nil)
	stats.Observe("smpp-1", true, 20*time.Millisecond)
	stats.Observe("smpp-1", false, 40*time.Millisecond)
	host := statuses{
		"smpp-1": {Healthy: true, Balance: &provider.Balance{Amount: 12.5, Currency: "EUR"}},
		"down":   {Healthy: false},
	}
	live := core.LiveState{Host: host, Stats: stats}
	tests := []struct {
		name string
		want routing.ProviderState
	}{
		{"smpp-1", routing.ProviderState{Healthy: true, HasBalance: true, Balance: 12.5, BalanceCurrency: "EUR", SuccessRate: 0.5, Latency: 30 * time.Millisecond}},
		{"down", routing.ProviderState{Healthy: false, SuccessRate: 1}},
		{"unknown", routing.ProviderState{SuccessRate: 1}},
	}
	for _, tt := range tests {
		if got := live.ProviderState(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// The dispatcher's view of health is routing's healthy, with the reason a
// waiting message's status shows.
func TestLiveStateProviderHealth(t *testing.T) {
	live := core.LiveState{Host: statuses{
		"up":       {State: pluginhost.StateRunning, Healthy: true, HealthDetail: "bound"},
		"unbound":  {State: pluginhost.StateRunning, HealthDetail: "SMSC not bound"},
		"crashing": {State: pluginhost.StateCrashLoop, LastError: "exit status 2"},
	}}
	tests := []struct {
		name string
		ok   bool
		why  string
	}{
		{"up", true, ""},
		{"unbound", false, "health check: SMSC not bound"},
		{"crashing", false, "plugin crash_loop: exit status 2"},
		{"unknown", false, "no such provider is configured"},
	}
	for _, tt := range tests {
		if ok, why := live.ProviderHealth(tt.name); ok != tt.ok || why != tt.why {
			t.Errorf("%s: %t %q, want %t %q", tt.name, ok, why, tt.ok, tt.why)
		}
		if st := live.ProviderState(tt.name); tt.name != "unknown" && st.HealthDetail != tt.why {
			t.Errorf("%s: routing sees health detail %q, want %q", tt.name, st.HealthDetail, tt.why)
		}
	}
	if ok, why := (core.LiveState{}).ProviderHealth("any"); !ok || why != "" {
		t.Errorf("without a host: %t %q, want every provider healthy", ok, why)
	}
}
