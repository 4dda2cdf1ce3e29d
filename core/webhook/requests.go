package webhook

import (
	"sync"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// outcome is a finished attempt on its way back to Run.
type outcome struct {
	result  outbox.Result
	account string
}

// requests runs Run's HTTP requests on worker goroutines, within the
// limits on how many run at once: in all, and per account, so that a slow
// receiver cannot hold every slot while other accounts wait. A worker
// outlives its request and takes the next: a goroutine of its own per
// request grew a fresh stack through net/http's client every time, a
// cost the server paid per webhook (docs/performance.md).
type requests struct {
	limit, perAccount int
	// send makes one attempt; set once per Run, so that starting a
	// request costs one closure as before.
	send      func(outbox.Delivery) outbox.Result
	running   int
	byAccount map[string]int
	// jobs feeds the workers. There are never fewer workers than
	// requests running, so a queued request always has a worker free
	// or about to be, and jobs (of capacity limit) never blocks.
	jobs    chan outbox.Delivery
	workers int
	wg      sync.WaitGroup
	// done receives each finished attempt.
	done chan outcome
}

func newRequests(limit, perAccount int, send func(outbox.Delivery) outbox.Result) *requests {
	return &requests{limit: limit, perAccount: perAccount, send: send, byAccount: map[string]int{},
		jobs: make(chan outbox.Delivery, limit), done: make(chan outcome, limit)}
}

// free reports whether a request of the account may start now.
func (q *requests) free(account string) bool {
	return q.byAccount[account] < q.perAccount && q.running < q.limit
}

// full reports whether every slot is taken.
func (q *requests) full() bool { return q.running >= q.limit }

// start sends c on a worker, starting one when every worker is busy; its
// outcome arrives on done.
func (q *requests) start(c outbox.Delivery) {
	q.running++
	q.byAccount[c.AccountID]++
	if q.workers < q.running {
		q.workers++
		q.wg.Go(q.work)
	}
	q.jobs <- c
}

// work sends requests until closeWhenDone closes jobs.
func (q *requests) work() {
	for c := range q.jobs {
		q.done <- outcome{result: q.send(c), account: c.AccountID}
	}
}

// finished counts a request out once its outcome was taken from done.
func (q *requests) finished(o outcome) {
	q.running--
	if q.byAccount[o.account]--; q.byAccount[o.account] <= 0 {
		delete(q.byAccount, o.account)
	}
}

// closeWhenDone closes done once every request started has sent its
// outcome, for a stopping Run to take them all with a range.
func (q *requests) closeWhenDone() {
	close(q.jobs)
	go func() {
		q.wg.Wait()
		close(q.done)
	}()
}
