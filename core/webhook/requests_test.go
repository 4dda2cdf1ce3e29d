package webhook

import (
	"testing"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// TestRequestsReuseTheirWorkers checks that requests run one after another
// share a worker, that requests running at once each get one, and that
// every worker ends once the requests are closed (goleak, in TestMain).
func TestRequestsReuseTheirWorkers(t *testing.T) {
	release := make(chan struct{})
	q := newRequests(8, 8, func(c outbox.Delivery) outbox.Result {
		if c.AccountID == "slow" {
			<-release
		}
		return outbox.Result{Seq: c.Seq}
	})
	for i := range 5 {
		q.start(outbox.Delivery{Seq: uint64(i + 1), AccountID: "a"})
		o := <-q.done
		q.finished(o)
		if o.result.Seq != uint64(i+1) {
			t.Fatalf("request %d: outcome of %d", i+1, o.result.Seq)
		}
	}
	if q.workers != 1 {
		t.Fatalf("5 requests one after another started %d workers, want 1", q.workers)
	}
	for i := range 3 {
		q.start(outbox.Delivery{Seq: uint64(10 + i), AccountID: "slow"})
	}
	if q.workers != 3 {
		t.Fatalf("3 requests at once have %d workers, want 3", q.workers)
	}
	close(release)
	for range 3 {
		q.finished(<-q.done)
	}
	q.closeWhenDone()
	for range q.done {
		t.Fatal("an outcome after every request finished")
	}
}
