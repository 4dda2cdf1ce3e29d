package webhook

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
)

func delivery(seq uint64, account, message string) outbox.Delivery {
	return outbox.Delivery{Seq: seq, AccountID: account, MessageID: message}
}

// slots is a starter with free slots per account.
type slots struct {
	free    map[string]int
	started []uint64
}

func (s *slots) canStart(account string) bool { return s.free[account] > 0 }

func (s *slots) start(c outbox.Delivery) {
	s.free[c.AccountID]--
	s.started = append(s.started, c.Seq)
}

func TestBacklogFill(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		free       map[string]int
		busy       bool // the last claim skipped the accounts
		now        time.Time
		wantStart  []uint64
		wantStale  []uint64
		wantDry    bool
		wantLeft   int
		wantLeftOf map[string]bool
	}{
		{name: "starts in order while slots are free", free: map[string]int{"a": 2}, now: t0,
			wantStart: []uint64{1, 2}, wantLeft: 2, wantLeftOf: map[string]bool{"a": true, "b": true}},
		{name: "an account run dry that claims skipped asks for a claim", free: map[string]int{"b": 5}, busy: true, now: t0,
			wantStart: []uint64{10}, wantDry: true, wantLeft: 3, wantLeftOf: map[string]bool{"a": true}},
		{name: "run dry without having been skipped asks nothing", free: map[string]int{"b": 5}, now: t0,
			wantStart: []uint64{10}, wantLeft: 3, wantLeftOf: map[string]bool{"a": true}},
		{name: "waited too long: stale, not started", free: map[string]int{"a": 5, "b": 5}, now: t0.Add(time.Hour),
			wantStale: []uint64{1, 2, 3, 10}, wantLeft: 0},
		{name: "no slot, nothing moves", free: map[string]int{}, now: t0, wantLeft: 4,
			wantLeftOf: map[string]bool{"a": true, "b": true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBacklog(10)
			for _, c := range []outbox.Delivery{delivery(1, "a", "m1"), delivery(2, "a", "m2"), delivery(3, "a", "m3"), delivery(10, "b", "m4")} {
				b.add(c, t0)
			}
			if tc.busy {
				if busy := b.busy(); len(busy) != 2 {
					t.Fatalf("busy = %v, want both accounts", busy)
				}
			}
			s := &slots{free: tc.free}
			stale, dry := b.fill(tc.now, time.Minute, s)
			slices.Sort(s.started)
			if !slices.Equal(s.started, tc.wantStart) {
				t.Errorf("started %v, want %v", s.started, tc.wantStart)
			}
			got := seqsOf(stale)
			slices.Sort(got)
			if !slices.Equal(got, tc.wantStale) {
				t.Errorf("stale %v, want %v", got, tc.wantStale)
			}
			if dry != tc.wantDry {
				t.Errorf("ran dry %v, want %v", dry, tc.wantDry)
			}
			if b.len() != tc.wantLeft {
				t.Errorf("%d left, want %d", b.len(), tc.wantLeft)
			}
			for _, acc := range []string{"a", "b"} {
				if b.has(acc) != tc.wantLeftOf[acc] {
					t.Errorf("has(%s) = %v, want %v", acc, b.has(acc), tc.wantLeftOf[acc])
				}
			}
		})
	}
}

func TestBacklogFullAndDrain(t *testing.T) {
	b := newBacklog(2)
	now := time.Now()
	b.add(delivery(1, "a", ""), now)
	if b.full("a") {
		t.Fatal("full after one of two")
	}
	b.add(delivery(2, "a", ""), now)
	if !b.full("a") || b.full("b") {
		t.Fatalf("full(a) %v full(b) %v, want true false", b.full("a"), b.full("b"))
	}
	got := seqsOf(b.drain())
	slices.Sort(got)
	if !slices.Equal(got, []uint64{1, 2}) || b.len() != 0 || b.has("a") {
		t.Fatalf("drain = %v leaving %d, want [1 2] and nothing", got, b.len())
	}
}

func TestChains(t *testing.T) {
	now := time.Now()
	ch := chains{}
	ch.add(delivery(2, "a", "m1"), now)
	ch.add(delivery(3, "a", "m1"), now)
	ch.add(delivery(7, "a", "m2"), now)
	if !ch.has("m1") || ch.has("m3") || ch.has("") {
		t.Fatal("has does not match what was added")
	}
	// Only the first events whose older ones are finished resume.
	ready := func(c outbox.Delivery) bool { return c.Seq == 2 }
	if got := seqsOf(ch.resume("m1", ready)); !slices.Equal(got, []uint64{2}) {
		t.Fatalf("resume = %v, want [2]", got)
	}
	if got := seqsOf(ch.resume("m1", ready)); len(got) != 0 || !ch.has("m1") {
		t.Fatalf("resume = %v, want nothing, 3 still waiting", got)
	}
	if got := seqsOf(ch.take("m1")); !slices.Equal(got, []uint64{3}) || ch.has("m1") {
		t.Fatalf("take = %v, want [3] and the chain gone", got)
	}
	if got := ch.take("m9"); got != nil {
		t.Fatalf("take of no chain = %v", got)
	}
	if got := seqsOf(ch.drain()); !slices.Equal(got, []uint64{7}) || len(ch) != 0 {
		t.Fatalf("drain = %v, want [7] and nothing left", got)
	}
}

func TestClaims(t *testing.T) {
	now := time.Now()
	full := claimDone{claimed: make([]outbox.Delivery, 3), limit: 3}
	cases := []struct {
		name           string
		wokenMeanwhile bool // a wake-up came while the claim ran
		done           claimDone
		gaveBack       int
		wantWanted     bool
		wantPause      bool
	}{
		{name: "a full batch that fit: claim again", done: full, wantWanted: true},
		{name: "a full batch partly given back: wait", done: full, gaveBack: 1},
		{name: "a partial batch: wait", done: claimDone{claimed: make([]outbox.Delivery, 2), limit: 3}},
		{name: "nothing found: pause", done: claimDone{limit: 3}, wantPause: true},
		{name: "failed: wait, no pause", done: claimDone{err: errors.New("db down"), limit: 3}},
		{name: "a wake-up during the claim is kept", wokenMeanwhile: true, done: claimDone{limit: 3}, wantWanted: true, wantPause: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClaims()
			if !c.ready(c.pause(now)) {
				t.Fatal("a new Run does not claim at once")
			}
			c.started()
			if c.ready(0) {
				t.Fatal("ready while a claim runs")
			}
			if tc.wokenMeanwhile {
				c.want()
			}
			c.finished(tc.done, tc.gaveBack, now)
			if c.running || c.wanted != tc.wantWanted {
				t.Errorf("running %v wanted %v, want false %v", c.running, c.wanted, tc.wantWanted)
			}
			if paused := c.pause(now) > 0; paused != tc.wantPause {
				t.Errorf("paused %v, want %v", paused, tc.wantPause)
			}
			c.want()
			if c.ready(c.pause(now)) == tc.wantPause {
				t.Errorf("ready %v with pause %v", !tc.wantPause, tc.wantPause)
			}
			if !c.ready(c.pause(now.Add(emptyClaimPause))) {
				t.Error("not ready once the pause is over")
			}
		})
	}
}

func TestResults(t *testing.T) {
	r := newResults(2)
	if r.next() != nil {
		t.Fatal("a batch with nothing finished")
	}
	r.add(outcome{account: "a"})
	b := r.next()
	if len(b) != 1 || !r.recording {
		t.Fatalf("next = %v, recording %v; want one outcome being recorded", b, r.recording)
	}
	r.add(outcome{account: "b"})
	if r.next() != nil {
		t.Fatal("a second record while one is in flight")
	}
	if !r.full() {
		t.Fatal("not full with two unrecorded of two")
	}
	r.recorded(recordDone{batch: b})
	if r.full() || r.recording {
		t.Fatalf("full %v recording %v after the record, want neither", r.full(), r.recording)
	}
	if b := r.next(); len(b) != 1 || b[0].account != "b" {
		t.Fatalf("next = %v, want the outcome that finished during the record", b)
	}
}

func TestRequests(t *testing.T) {
	release := make(chan struct{})
	q := newRequests(3, 2, func(c outbox.Delivery) outbox.Result {
		<-release
		return outbox.Result{Seq: c.Seq}
	})
	for i, acc := range []string{"a", "a", "b"} {
		if !q.free(acc) {
			t.Fatalf("request %d of %s: no slot", i, acc)
		}
		q.start(delivery(uint64(i+1), acc, ""))
	}
	if q.free("a") || q.free("c") || !q.full() {
		t.Fatalf("free(a) %v free(c) %v full %v; want a at its own limit and every slot taken", q.free("a"), q.free("c"), q.full())
	}
	close(release)
	o := <-q.done
	q.finished(o)
	if q.full() || !q.free(o.account) {
		t.Fatalf("a finished request of %s freed no slot", o.account)
	}
	q.closeWhenDone()
	var seqs []uint64
	seqs = append(seqs, o.result.Seq)
	for o := range q.done {
		q.finished(o)
		seqs = append(seqs, o.result.Seq)
	}
	slices.Sort(seqs)
	if !slices.Equal(seqs, []uint64{1, 2, 3}) || q.running != 0 || len(q.byAccount) != 0 {
		t.Fatalf("outcomes %v, %d running, %v by account; want all three and none left", seqs, q.running, q.byAccount)
	}
}
