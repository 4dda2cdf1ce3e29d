package core

import (
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/providerstats"
	"github.com/smsrouter/smsrouter/routing"
)

// ProviderStatuses reports what the plugin host knows of a provider.
type ProviderStatuses interface {
	Status(name string) (pluginhost.ProviderStatus, bool)
}

// ProviderFigures reports a provider's recent success rate and latency.
type ProviderFigures interface {
	Figures(name string) providerstats.Figures
}

// LiveState is the routing engine's view of providers right now: health
// and balance from the plugin host, success rate and latency from the
// dispatcher's recent attempts.
type LiveState struct {
	Host  ProviderStatuses
	Stats ProviderFigures
}

// ProviderState implements routing.StateSource.
func (l LiveState) ProviderState(name string) routing.ProviderState {
	st := routing.ProviderState{SuccessRate: 1}
	if l.Host != nil {
		if s, ok := l.Host.Status(name); ok {
			st.Healthy, st.HealthDetail = s.Healthy, unhealthyWhy(s)
			st.RefuseWhileDown, st.Operators, st.Countries = s.RefuseWhileDown, s.Operators, s.Countries
			if s.Balance != nil {
				st.HasBalance, st.Balance, st.BalanceCurrency = true, s.Balance.Amount, s.Balance.Currency
			}
		}
	}
	if l.Stats != nil {
		f := l.Stats.Figures(name)
		st.SuccessRate, st.Latency = f.SuccessRate, f.Latency
	}
	return st
}

// ProviderHealth implements dispatch.Health: a provider can take messages
// while its plugin runs and its last health check passed (routing's
// healthy). A name the host does not know cannot take any.
func (l LiveState) ProviderHealth(name string) (bool, string) {
	if l.Host == nil {
		return true, ""
	}
	s, ok := l.Host.Status(name)
	if !ok {
		return false, "no such provider is configured"
	}
	return s.Healthy, unhealthyWhy(s)
}

// unhealthyWhy says why a provider is unhealthy, for operators and for the
// status of the messages waiting for it; "" when it is healthy or nothing
// is known.
func unhealthyWhy(s pluginhost.ProviderStatus) string {
	switch {
	case s.Healthy:
		return ""
	case s.State != "" && s.State != pluginhost.StateRunning:
		why := "plugin " + string(s.State)
		if s.LastError != "" {
			why += ": " + s.LastError
		}
		return why
	case s.HealthDetail != "":
		return "health check: " + s.HealthDetail
	}
	return ""
}
