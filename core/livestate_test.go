package core_test

import (
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/providerstats"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/sdk"
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
		"smpp-1": {Healthy: true, Balance: &sdk.Balance{Amount: 12.5, Currency: "EUR"}},
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
		if got := live.ProviderState(tt.name); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
