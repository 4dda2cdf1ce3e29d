package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// providerStates are the values of smsrouter_provider_state's state label;
// every one is reported, 1 for the current, so that an alert can ask for a
// state without guessing whether its series exists.
var providerStates = []pluginhost.State{pluginhost.StateStarting, pluginhost.StateRunning,
	pluginhost.StateRestarting, pluginhost.StateCrashLoop, pluginhost.StateStopped}

// providerCollector reads the plugin host's status at every scrape: the
// host already tracks it for GET /api/v1/admin/providers, and reading it
// costs a lock per provider.
type providerCollector struct {
	host     ProviderStates
	up       *prometheus.Desc
	state    *prometheus.Desc
	restarts *prometheus.Desc
}

func newProviderCollector(host ProviderStates) *providerCollector {
	return &providerCollector{
		host: host,
		up: prometheus.NewDesc(prometheus.BuildFQName(namespace, "provider", "up"),
			"1 when the provider's plugin is running and its last health check passed, else 0.",
			[]string{"provider"}, nil),
		state: prometheus.NewDesc(prometheus.BuildFQName(namespace, "provider", "state"),
			"1 for the state the provider's plugin process is in (starting, running, restarting, crash_loop, stopped), 0 for the others.",
			[]string{"provider", "state"}, nil),
		restarts: prometheus.NewDesc(prometheus.BuildFQName(namespace, "plugin", "restarts_total"),
			"Times the provider's plugin process was relaunched after it died or failed to start, since this server started.",
			[]string{"provider"}, nil),
	}
}

func (c *providerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.state
	ch <- c.restarts
}

func (c *providerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.host.Statuses() {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, boolValue(s.Healthy), s.Name)
		for _, st := range providerStates {
			ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, boolValue(s.State == st), s.Name, string(st))
		}
		ch <- prometheus.MustNewConstMetric(c.restarts, prometheus.CounterValue, float64(s.Restarts), s.Name)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
