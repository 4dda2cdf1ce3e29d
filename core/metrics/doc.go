// Package metrics exposes smsrouter's Prometheus metrics: it owns the
// registry and every collector, and serves the text exposition format.
//
// Three kinds of series live here. Counters and histograms are counted in
// this process as things happen: the dispatcher reports sends, retries and
// failovers (it takes *Metrics as its dispatch.Metrics, and its providers
// wrapped by InstrumentProviders), the HTTP server reports requests, the
// webhook deliverer reports attempts. Provider state is read from the
// plugin host at scrape time. Database series (messages by status and
// provider, queue depth, pending webhooks) are read from the database at
// scrape time too, but at most once per refresh interval, one read at a
// time and under a deadline, so that a scrape storm or a huge messages
// table cannot load the database; they are the same on every node sharing
// the database.
//
// docs/metrics.md lists every series with its labels and example alerts.
package metrics
