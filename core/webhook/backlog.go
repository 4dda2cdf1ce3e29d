package webhook

import (
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// waiting is a delivery in the backlog or a chain, since when.
type waiting struct {
	c     outbox.Delivery
	since time.Time
}

// backlog holds deliveries of accounts whose request slots are all taken,
// started as their requests finish: giving them back and claiming them
// again would cost a claim and a release per request.
type backlog struct {
	// max caps one account's backlog for claimed deliveries.
	max       int
	byAccount map[string][]waiting
	n         int
	// skipped are the accounts the last claims left alone because of
	// their backlog; they need a claim when it runs dry.
	skipped map[string]bool
}

func newBacklog(max int) *backlog {
	return &backlog{max: max, byAccount: map[string][]waiting{}, skipped: map[string]bool{}}
}

// starter starts requests, as far as slots are free.
type starter interface {
	canStart(account string) bool
	start(outbox.Delivery)
}

// len is how many deliveries wait in all.
func (b *backlog) len() int { return b.n }

// has reports whether deliveries of the account wait: a new one queues
// behind them.
func (b *backlog) has(account string) bool { return len(b.byAccount[account]) > 0 }

// full reports whether the account's backlog takes no more claimed
// deliveries.
func (b *backlog) full(account string) bool { return len(b.byAccount[account]) >= b.max }

// add queues c behind its account's backlog.
func (b *backlog) add(c outbox.Delivery, now time.Time) {
	b.byAccount[c.AccountID] = append(b.byAccount[c.AccountID], waiting{c: c, since: now})
	b.n++
}

// busy lists the accounts with a backlog still to work through, and notes
// them as skipped: claims leave those alone, so that an account's backlog
// is refilled only once it ran dry, in one claim that fits, instead of
// claims that would mostly be given back.
func (b *backlog) busy() []string {
	var out []string
	for acc, q := range b.byAccount {
		if len(q) > 0 {
			out = append(out, acc)
			b.skipped[acc] = true
		}
	}
	return out
}

// fill starts backlogged deliveries while s has slots free, oldest first
// per account. Those that waited longer than maxWait are returned stale,
// to be given back before their lease runs out. ranDry says a skipped
// account's backlog ran dry: time to claim what the claims left alone.
func (b *backlog) fill(now time.Time, maxWait time.Duration, s starter) (stale []outbox.Delivery, ranDry bool) {
	for acc, q := range b.byAccount {
		for len(q) > 0 && s.canStart(acc) {
			w := q[0]
			q = q[1:]
			b.n--
			if now.Sub(w.since) > maxWait {
				stale = append(stale, w.c)
				continue
			}
			s.start(w.c)
		}
		b.byAccount[acc] = q
		if len(q) == 0 {
			delete(b.byAccount, acc)
			if b.skipped[acc] {
				delete(b.skipped, acc)
				ranDry = true
			}
		}
	}
	return stale, ranDry
}

// drain empties the backlog and returns what waited in it.
func (b *backlog) drain() []outbox.Delivery {
	var out []outbox.Delivery
	for _, q := range b.byAccount {
		for _, w := range q {
			out = append(out, w.c)
		}
	}
	clear(b.byAccount)
	b.n = 0
	return out
}
