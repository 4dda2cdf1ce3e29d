package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
)

// databaseCollector serves series read from the database. A scrape reads
// them only when the last read is older than refresh, one read at a time
// (concurrent scrapes wait for it and share it), under a deadline; a part
// that fails keeps its previous values, so that a slow database shows as
// stale figures and a read error count rather than as a failing scrape.
//
// The message counts read the whole messages table (about a second of
// PostgreSQL time per million rows), so they have a refresh interval and a
// deadline of their own, minutes rather than seconds, or none at all.
type databaseCollector struct {
	db           Database
	refresh      time.Duration
	timeout      time.Duration
	countRefresh time.Duration
	countTimeout time.Duration
	noCounts     bool
	now          func() time.Time
	log          hclog.Logger

	messages      *prometheus.Desc
	queue         *prometheus.Desc
	oldestDue     *prometheus.Desc
	webhooks      *prometheus.Desc
	readSeconds   *prometheus.Desc
	readTimestamp *prometheus.Desc
	readErrors    prometheus.Counter

	mu       sync.Mutex
	readAt   time.Time // when the last read started, successful or not
	countAt  time.Time // when the last count started
	snap     databaseSnapshot
	okAt     time.Time // when the cheap parts were last read successfully
	readTook time.Duration
}

type databaseSnapshot struct {
	counts    []message.Count
	depths    []dispatch.QueueDepth
	oldestAge time.Duration
	webhooks  int64
	// haveX is false until part X was read once.
	haveCounts, haveDepths, haveOldest, haveWebhooks bool
}

func newDatabaseCollector(o Options, log hclog.Logger) *databaseCollector {
	return &databaseCollector{
		db: o.Database, refresh: o.DatabaseRefresh, timeout: o.DatabaseTimeout, countRefresh: o.CountRefresh,
		countTimeout: o.CountTimeout, noCounts: o.NoCounts, now: o.Now, log: log,
		messages: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "messages"),
			"Messages stored, by status and by the provider that last took them (none: no provider has yet). Counted in the database (the same on every node) at most once per metrics count_refresh (default 5m).",
			[]string{"status", "provider"}, nil),
		queue: prometheus.NewDesc(prometheus.BuildFQName(namespace, "queue", "depth"),
			"Messages waiting to be sent, by status (queued; pending: no provider could take it, retried) and state: due (could be sent now, no dispatcher holds it), scheduled (waits for a retry backoff or its send_at), in_flight (a dispatcher holds it). Read from the database like smsrouter_messages.",
			[]string{"status", "state"}, nil),
		oldestDue: prometheus.NewDesc(prometheus.BuildFQName(namespace, "queue", "oldest_due_age_seconds"),
			"How long the longest-waiting due message has been due, when last read from the database; 0 when none is due. Growing means the dispatchers do not keep up or are stuck.",
			nil, nil),
		webhooks: prometheus.NewDesc(prometheus.BuildFQName(namespace, "webhook", "deliveries_pending"),
			"Webhook deliveries to applications not yet delivered nor given up (new, or failed and waiting for a retry). Read from the database like smsrouter_messages.",
			nil, nil),
		readSeconds: prometheus.NewDesc(prometheus.BuildFQName(namespace, "metrics", "database_read_seconds"),
			"How long the last read of the database series took (with the message counts when they were due).",
			nil, nil),
		readTimestamp: prometheus.NewDesc(prometheus.BuildFQName(namespace, "metrics", "database_read_timestamp_seconds"),
			"Unix time of the last successful read of the queue and webhook series; they are this old.",
			nil, nil),
		readErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "metrics", Name: "database_read_errors_total",
			Help: "Reads of the database series that failed or ran out of time; the series keep their previous values meanwhile.",
		}),
	}
}

func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.messages, c.queue, c.oldestDue, c.webhooks, c.readSeconds, c.readTimestamp} {
		ch <- d
	}
	c.readErrors.Describe(ch)
}

func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	snap, okAt, took := c.current()
	if snap.haveCounts {
		for _, r := range snap.counts {
			provider := r.Provider
			if provider == "" {
				provider = "none"
			}
			ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(r.N), string(r.Status), provider)
		}
	}
	if snap.haveDepths {
		// Both waiting statuses are always reported, so that an empty queue
		// reads 0 and not "no data".
		byStatus := map[message.Status]dispatch.QueueDepth{message.Queued: {}, message.Pending: {}}
		for _, d := range snap.depths {
			byStatus[d.Status] = d
		}
		for status, d := range byStatus {
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(d.Due), string(status), "due")
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(d.Scheduled), string(status), "scheduled")
			ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(d.Leased), string(status), "in_flight")
		}
	}
	if snap.haveOldest {
		ch <- prometheus.MustNewConstMetric(c.oldestDue, prometheus.GaugeValue, snap.oldestAge.Seconds())
	}
	if snap.haveWebhooks {
		ch <- prometheus.MustNewConstMetric(c.webhooks, prometheus.GaugeValue, float64(snap.webhooks))
	}
	ch <- prometheus.MustNewConstMetric(c.readSeconds, prometheus.GaugeValue, took.Seconds())
	if !okAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.readTimestamp, prometheus.GaugeValue, float64(okAt.UnixNano())/1e9)
	}
	c.readErrors.Collect(ch)
}

// current returns the snapshot, reading the database first when the last
// read is older than refresh.
func (c *databaseCollector) current() (databaseSnapshot, time.Time, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	cheap := c.readAt.IsZero() || now.Sub(c.readAt) >= c.refresh
	count := !c.noCounts && (c.countAt.IsZero() || now.Sub(c.countAt) >= c.countRefresh)
	if cheap || count {
		start := time.Now()
		if cheap {
			c.readAt = now
			c.read(now)
		}
		if count {
			c.countAt = now
			c.count()
		}
		c.readTook = time.Since(start)
	}
	return c.snap, c.okAt, c.readTook
}

// read refreshes every cheap part it can; c.mu is held.
func (c *databaseCollector) read(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	failed := false
	fail := func(what string, err error) {
		failed = true
		c.log.Warn("reading "+what+" for metrics failed; serving the previous figures", "error", err)
	}
	if depths, err := c.db.QueueDepths(ctx, now); err != nil {
		fail("the queue depth", err)
	} else {
		c.snap.depths, c.snap.haveDepths = depths, true
	}
	if oldest, ok, err := c.db.OldestDue(ctx, now); err != nil {
		fail("the oldest due message", err)
	} else {
		c.snap.oldestAge, c.snap.haveOldest = 0, true
		if ok {
			c.snap.oldestAge = max(now.Sub(oldest), 0)
		}
	}
	if n, err := c.db.CountPendingWebhooks(ctx); err != nil {
		fail("pending webhooks", err)
	} else {
		c.snap.webhooks, c.snap.haveWebhooks = n, true
	}
	if failed {
		c.readErrors.Inc()
		return
	}
	c.okAt = now
}

// count refreshes the message counts; c.mu is held.
func (c *databaseCollector) count() {
	ctx, cancel := context.WithTimeout(context.Background(), c.countTimeout)
	defer cancel()
	counts, err := c.db.CountMessages(ctx)
	if err != nil {
		c.readErrors.Inc()
		c.log.Warn("counting messages for metrics failed; serving the previous figures", "error", err)
		return
	}
	c.snap.counts, c.snap.haveCounts = counts, true
}
