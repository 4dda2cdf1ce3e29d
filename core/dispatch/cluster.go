package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
)

// clusterShare derives this process's part of the providers' limits from
// the configured (cluster-wide) limits and the number of live sending
// nodes: tps is divided evenly, concurrency rounded down but never below
// one Send call, so that the cluster never exceeds a tps limit and exceeds
// a concurrency limit only when there are more nodes than Send calls
// allowed.
type clusterShare struct {
	mu         sync.Mutex
	configured Limits
	nodes      int
}

func (c *clusterShare) setConfigured(l Limits) Limits {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.configured = l
	return divideLimits(l, c.nodes)
}

// setNodes records n live nodes and returns the limits to apply, and
// whether they changed.
func (c *clusterShare) setNodes(n int) (Limits, bool) {
	n = max(n, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n == c.nodes {
		return nil, false
	}
	c.nodes = n
	return divideLimits(c.configured, n), true
}

func divideLimits(l Limits, nodes int) Limits {
	if nodes <= 1 || l == nil {
		return l
	}
	out := make(Limits, len(l))
	for name, c := range l {
		part := config.Limits{TPS: c.TPS / float64(nodes)}
		if c.Concurrency > 0 {
			part.Concurrency = max(c.Concurrency/nodes, 1)
		}
		out[name] = part
	}
	return out
}

// Heartbeater records that a node is alive and counts the live sending
// nodes; *store.Store is one.
type Heartbeater interface {
	Heartbeat(ctx context.Context, id string, sending bool, ttl time.Duration) (int, error)
	LeaveCluster(ctx context.Context, id string) error
}

// MembershipOptions configure Membership.
type MembershipOptions struct {
	// NodeID names this process among the nodes; unique per process.
	NodeID string
	// Sending is true for nodes that dispatch (role "all").
	Sending bool
	// Interval between heartbeats; 0 means 10 s. A node not heard from for
	// three intervals no longer counts.
	Interval time.Duration
	Logger   hclog.Logger
}

// Membership keeps this node's heartbeat in the shared database until ctx
// ends, and hands the number of live sending nodes to d (nil for nodes
// that do not send), so that the providers' limits hold for the cluster.
// A failed heartbeat keeps the last count: the database being away stops
// sending anyway. On the way out the node removes its row, so that the
// others take its part at once.
func Membership(ctx context.Context, hb Heartbeater, d *Dispatcher, o MembershipOptions) {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	log := o.Logger.Named("membership")
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, o.Interval)
		defer cancel()
		n, err := hb.Heartbeat(bctx, o.NodeID, o.Sending, 3*o.Interval)
		if err != nil {
			log.Warn("heartbeat failed; keeping the last share of the providers' limits", "error", err)
			return
		}
		if d != nil {
			d.SetLiveNodes(n)
		}
	}
	beat()
	t := time.NewTicker(o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := hb.LeaveCluster(lctx, o.NodeID); err != nil {
				log.Warn("leaving the cluster failed; the others take this node's share after the heartbeat timeout", "error", err)
			}
			return
		case <-t.C:
			beat()
		}
	}
}
