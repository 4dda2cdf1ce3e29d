package modem

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// portState is where a port is in its life.
type portState string

const (
	stateOpening    portState = "opening"
	stateReady      portState = "ready"
	stateDown       portState = "down"        // closed; reopened after a backoff
	stateNeedsHuman portState = "needs_human" // wrong PIN, PUK: never retried
)

// portStatus is what operators and the pool see of a port.
type portStatus struct {
	State     portState
	Err       string
	IMEI      string
	IMSI      string
	Number    string
	Country   string
	Operator  string
	RSSI      int
	Reg       regState
	SentToday int
	day       string
	LastSeen  time.Time // the modem's last answer to a health poll
}

// eligible reports whether the pool may give the port a message.
func (s portStatus) eligible(maxPerDay int) bool {
	return s.State == stateReady && s.Reg.registered() && (maxPerDay == 0 || s.SentToday < maxPerDay)
}

// job is one message waiting for, or on, a port.
type job struct {
	msg  sdk.Message
	want string // operator wanted for this message, or ""
	// strict: the message asked for the operator itself, so no other will do.
	strict bool
	// deadline is the Send's, by which its answer must be back; zero: none.
	deadline time.Time
	mu       sync.Mutex
	taken    bool // a port started sending it
	gone     bool // withdrawn by Send (its context ended)
	done     chan sdk.SendResult
	tried    map[*port]bool
}

// take marks the job started; false when Send withdrew it.
func (j *job) take() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.gone {
		return false
	}
	j.taken = true
	return true
}

// withdraw takes the job back; false when a port already started it.
func (j *job) withdraw() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.taken {
		return false
	}
	j.gone = true
	return true
}

// port is one serial modem of the pool, opened and reopened for the
// provider's life by run.
type port struct {
	cfg portConfig
	p   *Provider

	mu      sync.Mutex
	status  portStatus
	queue   []*job
	busy    bool
	deletes []int // storage indexes whose message the host stored
	wake    chan struct{}

	nextSend time.Time
	// first is closed when the first session got ready or failed.
	first     chan struct{}
	firstOnce sync.Once
}

func (pt *port) firstDone() { pt.firstOnce.Do(func() { close(pt.first) }) }

func newPort(p *Provider, cfg portConfig) *port {
	return &port{cfg: cfg, p: p, wake: make(chan struct{}, 1), first: make(chan struct{}),
		status: portStatus{State: stateOpening, RSSI: 99, Reg: regUnknown, Number: cfg.Number}}
}

func (pt *port) signal() {
	select {
	case pt.wake <- struct{}{}:
	default:
	}
}

func (pt *port) snapshot() portStatus {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.status
}

// load is how busy the port is: waiting messages and the one on the line.
func (pt *port) load() int {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	n := len(pt.queue)
	if pt.busy {
		n++
	}
	return n
}

// enqueue gives the port a job; false when it is not ready any more.
func (pt *port) enqueue(j *job) bool {
	pt.mu.Lock()
	if pt.status.State != stateReady {
		pt.mu.Unlock()
		return false
	}
	j.tried[pt] = true
	pt.queue = append(pt.queue, j)
	pt.mu.Unlock()
	pt.signal()
	return true
}

func (pt *port) setState(st portState, err error) {
	pt.mu.Lock()
	pt.status.State = st
	pt.status.Err = ""
	if err != nil {
		pt.status.Err = err.Error()
	}
	pt.mu.Unlock()
	pt.p.notify()
}

// drain takes every waiting job off a port that stopped, so the pool can
// give them to another.
func (pt *port) drain() []*job {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	q := pt.queue
	pt.queue = nil
	return q
}

// run opens the port, serves it until it fails, and reopens it with a
// doubling backoff, until ctx ends. A SIM that needs a person stops it.
func (pt *port) run(ctx context.Context) {
	backoff := pt.p.cfg.ReopenBackoff.D()
	for {
		pt.setState(stateOpening, nil)
		served, err := pt.session(ctx)
		pt.firstDone()
		for _, j := range pt.drain() {
			pt.p.redispatch(j, fmt.Sprintf("port %s stopped before sending it", pt.cfg.Path))
		}
		if ctx.Err() != nil {
			pt.setState(stateDown, errors.New("provider closed"))
			return
		}
		if errors.Is(err, errPINRefused) || errors.Is(err, errNeedsPerson) {
			pt.setState(stateNeedsHuman, err)
			pt.p.log.Error("modem port stopped until restart", "port", pt.cfg.Path, "error", err)
			<-ctx.Done()
			return
		}
		pt.setState(stateDown, err)
		pt.p.log.Warn("modem port down, reopening", "port", pt.cfg.Path, "error", err, "in", backoff)
		if served {
			backoff = pt.p.cfg.ReopenBackoff.D()
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			pt.setState(stateDown, errors.New("provider closed"))
			return
		case <-t.C:
		}
		if !served {
			backoff = min(2*backoff, pt.p.cfg.ReopenMax.D())
		}
	}
}

// session opens and initialises the port, then serves it. served says
// whether it got as far as ready, which resets the backoff.
func (pt *port) session(ctx context.Context) (served bool, err error) {
	rw, err := pt.p.open(pt.cfg.Path, pt.cfg.Baud)
	if err != nil {
		return false, err
	}
	c := newConn(pt.cfg.Path, rw, pt.cfg.SMSC, pt.p.cfg.CommandTimeout.D())
	defer c.close()
	// Closing the port is what interrupts a command waiting for its answer
	// (+CMGS may wait a minute), so Close does not wait for the modem.
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	if err := c.init(pt.cfg.PIN.Reveal(), pt.p.cfg.StatusReports); err != nil {
		return false, err
	}
	imei, imsi, number := c.identity()
	pt.mu.Lock()
	pt.status.IMEI, pt.status.IMSI = imei, imsi
	if pt.cfg.Number == "" && number != "" {
		pt.status.Number = number
	}
	pt.status.Country = countryOf(pt.status.Number)
	if pt.status.Country == "" {
		pt.status.Country = countryOfIMSI(imsi)
	}
	pt.mu.Unlock()
	if err := pt.checkHealth(c); err != nil {
		return false, err
	}
	pt.readStored(c)
	pt.setState(stateReady, nil)
	pt.firstDone()
	pt.p.log.Info("modem port ready", "port", pt.cfg.Path, "imei", imei, "operator", pt.snapshot().Operator)
	return true, pt.serve(ctx, c)
}

// serve is the port's loop: one thing at a time on the line, as the modem
// needs, between sends, unsolicited codes, deletions and health polls.
func (pt *port) serve(ctx context.Context, c *conn) error {
	health := time.NewTicker(pt.p.cfg.HealthInterval.D())
	defer health.Stop()
	pace := time.NewTimer(time.Hour)
	defer pace.Stop()
	failures := 0
	for {
		var sendReady <-chan time.Time
		if pt.hasWork() {
			pace.Reset(max(0, time.Until(pt.nextSend)))
			sendReady = pace.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.at.Closed():
			return fmt.Errorf("port %s: %w", pt.cfg.Path, errPortGone)
		case u := <-c.urcs:
			pt.handleURC(c, u)
		case <-pt.wake:
			pt.deleteStored(c)
		case <-health.C:
			if err := pt.checkHealth(c); err != nil {
				failures++
				if failures >= 2 {
					return fmt.Errorf("port %s stopped answering: %w", pt.cfg.Path, err)
				}
				continue
			}
			failures = 0
		case <-sendReady:
			if err := pt.sendNext(c); err != nil {
				return err
			}
		}
	}
}

func (pt *port) hasWork() bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return len(pt.queue) > 0
}

// checkHealth polls the network state into the port's status.
func (pt *port) checkHealth(c *conn) error {
	n, err := c.poll()
	if err != nil {
		return err
	}
	pt.mu.Lock()
	pt.status.RSSI, pt.status.Reg, pt.status.Operator = n.rssi, n.registration, n.operator
	pt.status.LastSeen = time.Now()
	pt.mu.Unlock()
	pt.p.notify()
	return nil
}

// sendNext sends the first waiting job. It returns an error only when the
// port itself failed, which ends the session.
func (pt *port) sendNext(c *conn) error {
	pt.mu.Lock()
	var j *job
	for len(pt.queue) > 0 && j == nil {
		j, pt.queue = pt.queue[0], pt.queue[1:]
		if !j.take() {
			j = nil
		}
	}
	pt.busy = j != nil
	pt.mu.Unlock()
	if j == nil {
		return nil
	}
	defer func() {
		pt.mu.Lock()
		pt.busy = false
		pt.mu.Unlock()
	}()
	res, blamed := pt.p.submit(c, pt, j.msg, j.deadline)
	pt.nextSend = time.Now().Add(pt.cfg.SendInterval)
	if res.Outcome == sdk.Accepted {
		pt.countSent()
	}
	if blamed == blamePort {
		// Whatever the modem blamed (no service, SIM, SMSC), the pool
		// skips the port until the next health poll finds it registered.
		pt.mu.Lock()
		pt.status.Reg = regUnknown
		pt.mu.Unlock()
		pt.p.notify()
	}
	j.done <- res
	if blamed == blamePort && (c.linkBroken() || res.Code == "TIMEOUT") {
		return fmt.Errorf("port %s: %s", pt.cfg.Path, res.Reason)
	}
	return nil
}

func (pt *port) countSent() {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	today := time.Now().Format(time.DateOnly)
	if pt.status.day != today {
		pt.status.day, pt.status.SentToday = today, 0
	}
	pt.status.SentToday++
}

// gone reports whether the session ended, by Close or by the port.
func (c *conn) gone() bool {
	select {
	case <-c.done:
		return true
	default:
		return c.linkBroken()
	}
}

// linkBroken reports whether the session's reader ended.
func (c *conn) linkBroken() bool {
	select {
	case <-c.at.Closed():
		return true
	default:
		return false
	}
}

// handleURC acts on one unsolicited result code.
func (pt *port) handleURC(c *conn, u urc) {
	head := u.lines[0]
	switch {
	case hasPrefix(head, urcStored), hasPrefix(head, urcReportStored):
		index, ok := storageIndex(head)
		if !ok {
			pt.p.log.Warn("unreadable storage indication", "port", pt.cfg.Path, "line", head)
			return
		}
		tp, err := c.read(index)
		if err != nil {
			pt.p.log.Warn("could not read a stored message", "port", pt.cfg.Path, "index", index, "error", err)
			return
		}
		pt.p.received(pt, tp, index)
	case hasPrefix(head, urcDelivered), hasPrefix(head, urcReport):
		if len(u.lines) < 2 {
			return
		}
		tp, err := decodePDU(head, u.lines[1])
		if err != nil {
			pt.p.log.Warn("unreadable PDU from the modem", "port", pt.cfg.Path, "error", err)
			return
		}
		pt.p.received(pt, tp, -1)
	}
}

func hasPrefix(line, prefix string) bool {
	return len(line) >= len(prefix) && line[:len(prefix)] == prefix
}

// readStored takes in what the SIM kept while no one listened.
func (pt *port) readStored(c *conn) {
	msgs, errs := c.list()
	for _, err := range errs {
		pt.p.log.Warn("stored message unreadable", "port", pt.cfg.Path, "error", err)
	}
	for _, m := range msgs {
		pt.p.received(pt, m.tpdu, m.index)
	}
}

// stored marks storage indexes for deletion once the host stored their
// message; the port's loop deletes them.
func (pt *port) stored(indexes []int) {
	if len(indexes) == 0 {
		return
	}
	pt.mu.Lock()
	pt.deletes = append(pt.deletes, indexes...)
	pt.mu.Unlock()
	pt.signal()
}

func (pt *port) deleteStored(c *conn) {
	pt.mu.Lock()
	del := pt.deletes
	pt.deletes = nil
	pt.mu.Unlock()
	for _, i := range del {
		if err := c.remove(i); err != nil {
			pt.p.log.Warn("could not delete a stored message; it is read again at the next start", "port", pt.cfg.Path, "index", i, "error", err)
		}
	}
}

// sender is the port's number, the sender recipients see.
func (pt *port) sender() string { return pt.snapshot().Number }
