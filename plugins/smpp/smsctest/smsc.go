package smsctest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// Config sets the simulator's behaviour. The zero value accepts any
// credentials, answers at once, sends no receipts unless asked and never
// throttles.
type Config struct {
	// Addr to listen on; default "127.0.0.1:0" (a free loopback port).
	Addr string
	// SystemID and Password, when SystemID is set, are the only credentials
	// accepted: a wrong system_id gets ESME_RINVSYSID, a wrong password
	// ESME_RINVPASWD.
	SystemID, Password string
	// Window is the most unanswered submit_sm one session may have; a submit
	// beyond it is answered ESME_RTHROTTLED and counted in
	// Stats.WindowViolations. Zero means no limit.
	Window int
	// Latency delays every submit_sm_resp, on average: Go's timers fire up
	// to a millisecond late, so the simulator aims early by what it sees and
	// a single answer may come that much before Latency.
	Latency time.Duration
	// ThrottleAfter is how many submits per second the whole SMSC accepts;
	// the rest of that second is answered ESME_RTHROTTLED. Zero: no limit.
	ThrottleAfter int
	// Errors answers submits whose destination starts with a key with that
	// command_status (e.g. "1999": 0x0B).
	Errors map[string]uint32
	// ReceiptDelay is the time from acceptance to the delivery receipt, for
	// submits with registered_delivery set.
	ReceiptDelay time.Duration
	// Outcomes sets the receipt stat per destination prefix (e.g. "1555":
	// "UNDELIV"); the default is DELIVRD.
	Outcomes map[string]string
	// RespIDFormat and ReceiptIDFormat write message ids as "hex" (default)
	// or "dec", in the submit_sm_resp and in the receipt, like SMSCs that mix
	// them.
	RespIDFormat, ReceiptIDFormat string
	// ReceiptFirst sends each receipt before its own submit_sm_resp, on the
	// same session, to exercise that race.
	ReceiptFirst bool
	// RedeliverAfter is how long a deliver_sm the ESME refused (or could not
	// get: no receiver bound) waits before it is sent again; default 50ms.
	RedeliverAfter time.Duration
	// DeliverWindow is the most unanswered deliver_sm one session may have,
	// as SMSCs keep a window in that direction too; further deliveries wait
	// for an answer. Default 100. Without it, receipts arriving faster than
	// an ESME stores them would all be sent, refused and sent again every
	// RedeliverAfter, a storm no SMSC makes.
	DeliverWindow int
	// DropWhenUnbound discards deliveries no bound receiver can take (and
	// those a closed session never answered) instead of keeping them for the
	// next bind, as an SMSC that does not store them for the account does.
	// It keeps each of a series of short-lived clients to its own receipts.
	DropWhenUnbound bool
	// FirstID is the first message id issued; default 0x1A2B3C00.
	FirstID uint64
	// RejectValidity answers every submit_sm that carries a validity_period
	// ESME_RINVEXPIRY, as SMSCs that do not take one do. A malformed
	// validity_period gets that answer in any case.
	RejectValidity bool
	// DropOnDest drops the session (as DropConnections does) whenever it
	// reads a submit to a destination starting with one of these, as an
	// SMSC does that a particular message makes crash.
	DropOnDest []string
}

// Stats counts what the simulator saw.
type Stats struct {
	Binds, BindFailures          int64
	Submits, Accepted, Throttled int64
	Rejected, WindowViolations   int64
	ReceiptsSent, ReceiptsAcked  int64
	InboundAcked, DeliverRefused int64
	EnquireLinks, Unbinds        int64
	// UnbindResps counts unbind_resp received for unbinds the simulator
	// sent (Unbind).
	UnbindResps int64
	// DropsOnDest counts sessions dropped by DropOnDest.
	DropsOnDest int64
	// Outstanding is how many submits open sessions have read and not yet
	// answered: sampled over a run, it shows how full the ESME keeps its
	// window.
	Outstanding int64
}

// Submit is one submit_sm the simulator accepted.
type Submit struct {
	ID          string // as written in the submit_sm_resp
	SystemID    string
	Source      string
	SourceTON   byte
	SourceNPI   byte
	Dest        string
	DestTON     byte
	EsmClass    byte
	DataCoding  byte
	Registered  byte
	UserData    []byte // short_message (without UDH) or message_payload
	ConcatRef   int    // from UDH or SAR TLVs; 0 when not concatenated
	ConcatTotal int
	ConcatSeq   int
	SAR         bool // concatenation came in SAR TLVs
	Payload     bool // text came in message_payload
	// ValidityPeriod is the validity_period as received: empty, or the
	// 16-character SMPP 3.4 time ("000000023015000R" relative,
	// "300304051245200+" absolute).
	ValidityPeriod string
}

// Server is a running simulator.
type Server struct {
	cfg Config
	ln  net.Listener
	wg  sync.WaitGroup

	closed    chan struct{}
	closeOnce sync.Once
	nextID    atomic.Uint64

	mu       sync.Mutex
	conns    map[*conn]bool
	submits  []Submit
	byText   map[string]int
	rateSec  int64
	rateN    int
	dropNext int // drop the session that reads the Nth submit from now; 0 = off

	// deliveries waiting to be sent, by due time.
	dmu      sync.Mutex
	due      deliveryHeap
	blocked  []*delivery // due, but every receiver's window was full
	wake     chan struct{}
	rr       int
	stats    statsCounters
	keepSubs bool

	nmu     sync.Mutex
	changed chan struct{} // closed and replaced when a counter moves
}

type statsCounters struct {
	binds, bindFailures, submits, accepted, throttled, rejected, windowViolations,
	receiptsSent, receiptsAcked, inboundAcked, deliverRefused, enquireLinks, unbinds, unbindResps, dropsOnDest, outstanding atomic.Int64
}

// Start listens and serves until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.RedeliverAfter <= 0 {
		cfg.RedeliverAfter = 50 * time.Millisecond
	}
	if cfg.DeliverWindow <= 0 {
		cfg.DeliverWindow = 100
	}
	if cfg.FirstID == 0 {
		cfg.FirstID = 0x1A2B3C00
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("smsc simulator: listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{
		cfg:      cfg,
		ln:       ln,
		closed:   make(chan struct{}),
		conns:    map[*conn]bool{},
		byText:   map[string]int{},
		wake:     make(chan struct{}, 1),
		keepSubs: true,
		changed:  make(chan struct{}),
	}
	s.nextID.Store(cfg.FirstID)
	s.wg.Add(2)
	go s.acceptLoop()
	go s.deliverLoop()
	return s, nil
}

// Addr is the address the simulator listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the TCP port the simulator listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// KeepSubmits sets whether accepted submits are recorded for Submitted
// (default on); benchmarks turn it off.
func (s *Server) KeepSubmits(on bool) {
	s.mu.Lock()
	s.keepSubs = on
	s.mu.Unlock()
}

// Close stops listening, closes every session and waits for its goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.kill()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return nil
}

func (s *Server) notify() {
	s.nmu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.nmu.Unlock()
}

// Await blocks until cond holds for the counters, or ctx ends.
func (s *Server) Await(ctx context.Context, cond func(Stats) bool) error {
	for {
		s.nmu.Lock()
		changed := s.changed
		s.nmu.Unlock()
		st := s.Stats()
		if cond(st) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("smsc simulator: stats %+v: %w", st, ctx.Err())
		}
	}
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Binds: c.binds.Load(), BindFailures: c.bindFailures.Load(),
		Submits: c.submits.Load(), Accepted: c.accepted.Load(), Throttled: c.throttled.Load(),
		Rejected: c.rejected.Load(), WindowViolations: c.windowViolations.Load(),
		ReceiptsSent: c.receiptsSent.Load(), ReceiptsAcked: c.receiptsAcked.Load(),
		InboundAcked: c.inboundAcked.Load(), DeliverRefused: c.deliverRefused.Load(),
		EnquireLinks: c.enquireLinks.Load(), Unbinds: c.unbinds.Load(), UnbindResps: c.unbindResps.Load(), DropsOnDest: c.dropsOnDest.Load(),
		Outstanding: c.outstanding.Load(),
	}
}

// Submitted returns the accepted submits in order.
func (s *Server) Submitted() []Submit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Submit(nil), s.submits...)
}

// Sessions reports how many sessions are bound now.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.bound.Load() {
			n++
		}
	}
	return n
}

// DropConnections drops every session the way a failing link does: the
// SMSC stops answering, sends what it had already answered, and closes.
// Submits it had not answered are not accepted.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.drop()
	}
}

// DropOnSubmit drops the session that reads the nth submit from now (n ≥ 1),
// leaving that submit and every later one on it unanswered.
func (s *Server) DropOnSubmit(n int) {
	s.mu.Lock()
	s.dropNext = n
	s.mu.Unlock()
}

// RestartIDs makes the next accepted submit get id first (in the resp's
// format), as an SMSC does that restarts its counter or wraps: ids it
// issued before are issued again.
func (s *Server) RestartIDs(first uint64) {
	s.nextID.Store(first)
}

// Unbind sends unbind on every bound session, as an SMSC going down for
// maintenance does; a session is closed once its unbind_resp arrives
// (counted in Stats.UnbindResps).
func (s *Server) Unbind() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		if c.bound.Load() {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.write(header(0x00000006, 0, c.nextSeq()))
	}
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := newConn(s, nc)
		s.mu.Lock()
		select {
		case <-s.closed:
			s.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.requeue(c.unanswered())
		}()
	}
}

// conn is one ESME session.
type conn struct {
	s        *Server
	nc       net.Conn
	systemID string
	kind     uint32
	bound    atomic.Bool
	seq      atomic.Uint32
	out      chan []byte
	delayed  chan delayedResp
	done     chan struct{}
	doneOnce sync.Once

	mu          sync.Mutex
	dropping    bool
	outstanding int
	deliveries  map[uint32]*delivery
}

type delayedResp struct {
	due   time.Time
	frame []byte
	sub   *Submit
	text  string
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		s: s, nc: nc,
		out:        make(chan []byte, 8192),
		delayed:    make(chan delayedResp, 65536),
		done:       make(chan struct{}),
		deliveries: map[uint32]*delivery{},
	}
}

func (c *conn) kill() {
	c.doneOnce.Do(func() { close(c.done) })
	_ = c.nc.Close()
}

// drop stops answering, flushes what was answered, and half-closes, so the
// ESME reads every answer the SMSC gave before it sees the end.
func (c *conn) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropping {
		return
	}
	c.dropping = true
	select {
	case c.out <- nil:
	default:
		c.kill()
	}
}

func (c *conn) serve() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.writeLoop() }()
	go func() { defer wg.Done(); c.delayLoop() }()
	c.readLoop()
	c.kill()
	wg.Wait()
	c.mu.Lock()
	c.s.stats.outstanding.Add(-int64(c.outstanding))
	c.outstanding = 0
	c.mu.Unlock()
}

func (c *conn) writeLoop() {
	w := bufio.NewWriterSize(c.nc, 64<<10)
	halfClosed := false
	for {
		select {
		case <-c.done:
			return
		case b := <-c.out:
			for {
				if b == nil {
					_ = w.Flush()
					if tc, ok := c.nc.(*net.TCPConn); ok {
						_ = tc.CloseWrite()
					} else {
						_ = c.nc.Close()
					}
					halfClosed = true
				} else if !halfClosed {
					_, _ = w.Write(b)
				}
				select {
				case b = <-c.out:
					continue
				default:
				}
				break
			}
			if !halfClosed {
				if err := w.Flush(); err != nil {
					c.kill()
					return
				}
			}
		}
	}
}

// delayLoop sends submit answers after the configured latency, in order.
//
// Go's timers fire up to a millisecond late (the runtime's poller sleeps in
// whole milliseconds), which at 5 ms would make the simulator ~15% slower
// than configured and the benchmarks' window ÷ latency bound unreachable. So
// the loop aims early by the lateness it has observed, keeping the mean
// latency at the configured value.
func (c *conn) delayLoop() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var late time.Duration // moving average of the timer's overshoot
	for {
		select {
		case <-c.done:
			return
		case d := <-c.delayed:
			if wait := time.Until(d.due) - late; wait > 0 {
				t.Reset(wait)
				select {
				case <-c.done:
					return
				case <-t.C:
				}
				over := time.Until(d.due.Add(-late)) * -1
				late += (min(max(over, 0), c.s.cfg.Latency/2) - late) / 8
			}
			c.answer(d)
		}
	}
}

func (c *conn) nextSeq() uint32 {
	return c.seq.Add(1) & 0x7FFFFFFF
}

func (c *conn) write(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropping {
		return
	}
	select {
	case c.out <- b:
	case <-c.done:
	}
}

func header(id, status, seq uint32, body ...byte) []byte {
	b := make([]byte, 16+len(body))
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:], id)
	binary.BigEndian.PutUint32(b[8:], status)
	binary.BigEndian.PutUint32(b[12:], seq)
	copy(b[16:], body)
	return b
}

func (c *conn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		var hb [16]byte
		if _, err := io.ReadFull(r, hb[:]); err != nil {
			return
		}
		length := binary.BigEndian.Uint32(hb[0:])
		id := binary.BigEndian.Uint32(hb[4:])
		status := binary.BigEndian.Uint32(hb[8:])
		seq := binary.BigEndian.Uint32(hb[12:])
		if length < 16 || length > data.MAX_PDU_LEN {
			return
		}
		frame := make([]byte, length)
		copy(frame, hb[:])
		if _, err := io.ReadFull(r, frame[16:]); err != nil {
			return
		}
		c.mu.Lock()
		dropping := c.dropping
		c.mu.Unlock()
		if dropping {
			continue // a dropped link answers nothing more
		}
		switch id {
		case 0x00000001, 0x00000002, 0x00000009:
			c.onBind(frame, id, seq)
		case 0x00000004:
			c.onSubmit(frame, seq)
		case 0x80000005:
			c.onDeliverResp(seq, status)
		case 0x00000015:
			c.s.stats.enquireLinks.Add(1)
			c.s.notify()
			c.write(header(0x80000015, 0, seq))
		case 0x00000006:
			c.s.stats.unbinds.Add(1)
			c.s.notify()
			c.write(header(0x80000006, 0, seq))
			c.drop()
		case 0x80000006:
			c.s.stats.unbindResps.Add(1)
			c.s.notify()
			c.drop()
		case 0x80000015:
		default:
			if id&0x80000000 == 0 {
				c.write(header(0x80000000, uint32(data.ESME_RINVCMDID), seq))
			}
		}
	}
}

func (c *conn) onBind(frame []byte, id, seq uint32) {
	p, err := pdu.Parse(bytes.NewReader(frame))
	req, ok := p.(*pdu.BindRequest)
	if err != nil || !ok {
		c.write(header(0x80000000, uint32(data.ESME_RINVCMDLEN), seq))
		return
	}
	status := uint32(0)
	cfg := c.s.cfg
	switch {
	case c.bound.Load():
		status = uint32(data.ESME_RALYBND)
	case cfg.SystemID != "" && req.SystemID != cfg.SystemID:
		status = uint32(data.ESME_RINVSYSID)
	case cfg.SystemID != "" && req.Password != cfg.Password:
		status = uint32(data.ESME_RINVPASWD)
	}
	if status != 0 {
		c.s.stats.bindFailures.Add(1)
		c.write(header(id|0x80000000, status, seq))
		return
	}
	c.systemID, c.kind = req.SystemID, id
	c.bound.Store(true)
	c.write(header(id|0x80000000, 0, seq, append([]byte("smsctest"), 0)...))
	// Counted once the answer is queued: a test that saw the bind may make
	// the simulator send something, which must follow the bind_resp.
	c.s.stats.binds.Add(1)
	c.s.notify()
	c.s.kick()
}

func (c *conn) receives() bool { return c.bound.Load() && c.kind != 0x00000002 }

func (c *conn) onSubmit(frame []byte, seq uint32) {
	s := c.s
	s.stats.submits.Add(1)
	if !c.bound.Load() || c.kind == 0x00000001 {
		c.write(header(0x80000004, uint32(data.ESME_RINVBNDSTS), seq))
		return
	}
	s.mu.Lock()
	if s.dropNext > 0 {
		s.dropNext--
		if s.dropNext == 0 {
			s.mu.Unlock()
			c.drop()
			return
		}
	}
	s.mu.Unlock()
	p, err := pdu.Parse(bytes.NewReader(frame))
	sm, ok := p.(*pdu.SubmitSM)
	if err != nil || !ok {
		c.write(header(0x80000004, uint32(data.ESME_RSYSERR), seq))
		return
	}
	c.mu.Lock()
	c.outstanding++
	s.stats.outstanding.Add(1)
	over := s.cfg.Window > 0 && c.outstanding > s.cfg.Window
	c.mu.Unlock()
	dest := sm.DestAddr.Address()
	for _, prefix := range s.cfg.DropOnDest {
		if strings.HasPrefix(dest, prefix) {
			c.mu.Lock()
			c.outstanding--
			s.stats.outstanding.Add(-1)
			c.mu.Unlock()
			s.stats.dropsOnDest.Add(1)
			s.notify()
			c.drop()
			return
		}
	}
	status := uint32(0)
	switch {
	case over:
		s.stats.windowViolations.Add(1)
		status = uint32(data.ESME_RTHROTTLED)
	case s.errorFor(dest) != 0:
		status = s.errorFor(dest)
	case sm.ValidityPeriod != "" && (s.cfg.RejectValidity || !ValidTime(sm.ValidityPeriod)):
		status = uint32(data.ESME_RINVEXPIRY)
	case !s.admit():
		status = uint32(data.ESME_RTHROTTLED)
	}
	d := delayedResp{due: time.Now().Add(s.cfg.Latency)}
	if status != 0 {
		if status == uint32(data.ESME_RTHROTTLED) {
			s.stats.throttled.Add(1)
		} else {
			s.stats.rejected.Add(1)
		}
		d.frame = header(0x80000004, status, seq)
	} else {
		n := s.nextID.Add(1) - 1
		id := formatID(n, s.cfg.RespIDFormat)
		d.frame = header(0x80000004, 0, seq, append([]byte(id), 0)...)
		sub := recordOf(sm, id, c.systemID)
		d.sub = &sub
		if sm.RegisteredDelivery&0x03 != 0 {
			d.text = receiptText(formatID(n, s.cfg.ReceiptIDFormat), s.outcomeFor(dest))
		}
	}
	if s.cfg.Latency <= 0 {
		c.answer(d)
		return
	}
	select {
	case c.delayed <- d:
	case <-c.done:
	}
}

// answer sends a submit's answer; an accepted submit counts only once its
// answer is on its way, so a dropped link never "accepts" what it did not
// answer.
func (c *conn) answer(d delayedResp) {
	s := c.s
	c.mu.Lock()
	c.outstanding--
	s.stats.outstanding.Add(-1)
	if c.dropping {
		c.mu.Unlock()
		return
	}
	if d.sub != nil && d.text != "" && s.cfg.ReceiptFirst {
		c.mu.Unlock()
		s.schedule(&delivery{dsm: receiptPDU(d.sub, d.text), receipt: true, due: time.Now()}, c)
		c.mu.Lock()
		if c.dropping {
			c.mu.Unlock()
			return
		}
	}
	// Record the submit before its answer can reach the client, so a test
	// that saw the answer also sees the submit; take it back if the answer
	// never went out.
	if d.sub != nil {
		s.record(d.sub, 1)
	}
	select {
	case c.out <- d.frame:
	case <-c.done:
		c.mu.Unlock()
		if d.sub != nil {
			s.record(d.sub, -1)
		}
		return
	}
	c.mu.Unlock()
	if d.sub == nil {
		return
	}
	if d.text != "" && !s.cfg.ReceiptFirst {
		s.schedule(&delivery{dsm: receiptPDU(d.sub, d.text), receipt: true, due: time.Now().Add(s.cfg.ReceiptDelay)}, nil)
	}
}

// record counts an accepted submit (delta 1) or takes one back (delta -1).
func (s *Server) record(sub *Submit, delta int64) {
	s.stats.accepted.Add(delta)
	s.mu.Lock()
	if s.keepSubs {
		if delta > 0 {
			s.submits = append(s.submits, *sub)
		} else {
			for i := len(s.submits) - 1; i >= 0; i-- {
				if s.submits[i].ID == sub.ID {
					s.submits = append(s.submits[:i], s.submits[i+1:]...)
					break
				}
			}
		}
	}
	s.mu.Unlock()
	s.notify()
}

func (s *Server) errorFor(dest string) uint32 {
	for prefix, st := range s.cfg.Errors {
		if strings.HasPrefix(dest, prefix) {
			return st
		}
	}
	return 0
}

func (s *Server) outcomeFor(dest string) string {
	for prefix, st := range s.cfg.Outcomes {
		if strings.HasPrefix(dest, prefix) {
			return st
		}
	}
	return "DELIVRD"
}

// admit counts a submit against ThrottleAfter.
func (s *Server) admit() bool {
	if s.cfg.ThrottleAfter <= 0 {
		return true
	}
	sec := time.Now().Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec != s.rateSec {
		s.rateSec, s.rateN = sec, 0
	}
	if s.rateN >= s.cfg.ThrottleAfter {
		return false
	}
	s.rateN++
	return true
}

func formatID(n uint64, format string) string {
	if format == "dec" {
		return strconv.FormatUint(n, 10)
	}
	return strings.ToUpper(strconv.FormatUint(n, 16))
}

func recordOf(sm *pdu.SubmitSM, id, systemID string) Submit {
	ud, _ := sm.Message.GetMessageData()
	sub := Submit{
		ID: id, SystemID: systemID,
		Source: sm.SourceAddr.Address(), SourceTON: sm.SourceAddr.Ton(), SourceNPI: sm.SourceAddr.Npi(),
		Dest: sm.DestAddr.Address(), DestTON: sm.DestAddr.Ton(),
		EsmClass: sm.EsmClass, Registered: sm.RegisteredDelivery,
		UserData:       append([]byte(nil), ud...),
		ValidityPeriod: sm.ValidityPeriod,
	}
	if enc := sm.Message.Encoding(); enc != nil {
		sub.DataCoding = enc.DataCoding()
	}
	if f, ok := sm.OptionalParameters[pdu.TagMessagePayload]; ok {
		sub.UserData, sub.Payload = append([]byte(nil), f.Data...), true
	}
	if total, seq, ref, ok := sm.Message.UDH().GetConcatInfo(); ok {
		sub.ConcatRef, sub.ConcatTotal, sub.ConcatSeq = int(ref), int(total), int(seq)
	}
	f1, ok1 := sm.OptionalParameters[pdu.TagSarMsgRefNum]
	f2, ok2 := sm.OptionalParameters[pdu.TagSarTotalSegments]
	f3, ok3 := sm.OptionalParameters[pdu.TagSarSegmentSeqnum]
	if ok1 && ok2 && ok3 && len(f1.Data) == 2 && len(f2.Data) == 1 && len(f3.Data) == 1 {
		sub.ConcatRef = int(binary.BigEndian.Uint16(f1.Data))
		sub.ConcatTotal, sub.ConcatSeq, sub.SAR = int(f2.Data[0]), int(f3.Data[0]), true
	}
	return sub
}

func receiptText(id, stat string) string {
	now := time.Now().UTC().Format("0601021504")
	dlvrd := "001"
	errCode := "000"
	if stat != "DELIVRD" {
		dlvrd, errCode = "000", "001"
	}
	return fmt.Sprintf("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:", id, dlvrd, now, now, stat, errCode)
}

var messageStates = map[string]byte{"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}

// receiptPDU builds a receipt with both the text and the TLVs, as Melrose
// and most SMSCs send.
func receiptPDU(sub *Submit, text string) *pdu.DeliverSM {
	d := pdu.NewDeliverSM().(*pdu.DeliverSM)
	d.SourceAddr = pdu.NewAddressWithTonNpi(sub.DestTON, 1)
	_ = d.SourceAddr.SetAddress(sub.Dest)
	d.DestAddr = pdu.NewAddressWithTonNpi(sub.SourceTON, sub.SourceNPI)
	_ = d.DestAddr.SetAddress(sub.Source)
	d.EsmClass = 0x04
	_ = d.Message.SetMessageDataWithEncoding([]byte(text), data.GSM7BIT)
	id := text[3:strings.IndexByte(text, ' ')]
	stat := text[strings.Index(text, "stat:")+5 : strings.Index(text, " err:")]
	d.RegisterOptionalParam(pdu.Field{Tag: pdu.TagReceiptedMessageID, Data: append([]byte(id), 0)})
	d.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessageStateOption, Data: []byte{messageStates[stat]}})
	if stat != "DELIVRD" {
		d.RegisterOptionalParam(pdu.Field{Tag: pdu.TagNetworkErrorCode, Data: []byte{3, 0, 1}})
	}
	return d
}
