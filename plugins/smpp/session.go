package smpp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// SMPP command ids this plugin handles itself.
const (
	cmdGenericNack     uint32 = 0x80000000
	cmdBindReceiver    uint32 = 0x00000001
	cmdBindTransmitter uint32 = 0x00000002
	cmdSubmitSM        uint32 = 0x00000004
	cmdSubmitSMResp    uint32 = 0x80000004
	cmdDeliverSM       uint32 = 0x00000005
	cmdDeliverSMResp   uint32 = 0x80000005
	cmdUnbind          uint32 = 0x00000006
	cmdUnbindResp      uint32 = 0x80000006
	cmdBindTransceiver uint32 = 0x00000009
	cmdEnquireLink     uint32 = 0x00000015
	cmdEnquireLinkResp uint32 = 0x80000015
	respBit            uint32 = 0x80000000
)

// command_status values that drive behaviour (see the package doc).
const (
	statusOK          uint32 = 0x00
	statusInvBindStat uint32 = 0x04
	statusSysErr      uint32 = 0x08
	statusBindFail    uint32 = 0x0D
	statusInvPassword uint32 = 0x0E
	statusInvSystemID uint32 = 0x0F
	statusQueueFull   uint32 = 0x14
	statusThrottled   uint32 = 0x58
	statusRxTAppn     uint32 = 0x64
)

// maxFrame bounds command_length: a larger one means the stream is corrupt
// and cannot be resynchronised, so the bind is dropped.
const maxFrame = 64 << 10

// bindError is a bind_resp with a non-zero command_status.
type bindError struct{ status uint32 }

func (e bindError) Error() string {
	st := data.CommandStatusType(e.status)
	msg := fmt.Sprintf("SMSC refused the bind: %s (0x%08X) %s", st, e.status, st.Desc())
	if e.credentials() {
		msg += " — check system_id and password"
	}
	return msg
}

// credentials reports whether retrying soon is pointless until an operator
// fixes the account settings.
func (e bindError) credentials() bool {
	return e.status == statusInvPassword || e.status == statusInvSystemID || e.status == statusBindFail
}

// inflight is a request waiting for its response on one session.
type inflight struct {
	part   *part // nil for enquire_link
	sentAt time.Time
}

// session is one bound SMPP connection. Its reader, writer, keepalive and
// (when it may transmit) submitter goroutines all end when it dies.
type session struct {
	p        *Provider
	kind     uint32 // bind command id
	conn     net.Conn
	out      chan []byte
	bye      chan []byte // the last frame to write (see farewell)
	window   chan struct{}
	pacer    *pacer
	dead     chan struct{}
	dieOnce  sync.Once
	unbound  chan struct{} // closed when our unbind is answered
	draining atomic.Bool   // no new submits: shutting down
	// peerUnbound is set when the SMSC unbound the session: it ends for a
	// reason no message in flight is to blame for.
	peerUnbound atomic.Bool
	lastRead    atomic.Int64 // unix nanos of the last frame read
	seq         atomic.Uint32
	reader      *bufio.Reader

	mu      sync.Mutex
	err     error
	isDead  bool
	pending map[uint32]*inflight
}

func (s *session) transmits() bool { return s.kind != cmdBindReceiver }

// dial connects and binds one session.
func (p *Provider) dial(ctx context.Context, kind uint32, ceiling float64) (*session, error) {
	cfg := p.cfg
	d := &net.Dialer{Timeout: cfg.responseTimeout}
	var conn net.Conn
	var err error
	if cfg.TLS {
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: cfg.Host, InsecureSkipVerify: cfg.TLSSkipVerify, MinVersion: tls.VersionTLS12}}
		conn, err = td.DialContext(ctx, "tcp", cfg.addr())
	} else {
		conn, err = d.DialContext(ctx, "tcp", cfg.addr())
	}
	if err != nil {
		return nil, fmt.Errorf("connect to SMSC %s: %w", cfg.addr(), err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		// Go's default, made explicit: a windowed link must not wait for
		// Nagle (Kannel's window-10 collapse is exactly this).
		_ = tc.SetNoDelay(true)
	}
	req := pdu.NewBindRequest(bindingType(kind))
	req.SystemID, req.Password, req.SystemType = cfg.SystemID, cfg.Password.Reveal(), cfg.SystemType
	req.SetSequenceNumber(1)
	buf := pdu.NewBuffer(make([]byte, 0, 64))
	req.Marshal(buf)
	_ = conn.SetDeadline(time.Now().Add(cfg.responseTimeout))
	if _, err := conn.Write(buf.Bytes()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send bind to SMSC %s: %w", cfg.addr(), err)
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	for {
		h, body, err := readFrame(r)
		if err != nil {
			conn.Close()
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("bind to SMSC %s: the SMSC closed the connection without answering the bind (often its way of refusing the credentials): %w", cfg.addr(), err)
			}
			return nil, fmt.Errorf("bind to SMSC %s: waiting for bind_resp: %w", cfg.addr(), err)
		}
		if h.id == kind|respBit {
			if h.status != statusOK {
				conn.Close()
				return nil, bindError{status: h.status}
			}
			break
		}
		if h.id == cmdGenericNack {
			conn.Close()
			return nil, bindError{status: h.status}
		}
		_ = body
	}
	_ = conn.SetDeadline(time.Time{})
	s := &session{
		p:       p,
		kind:    kind,
		conn:    conn,
		out:     make(chan []byte, cfg.Window+64),
		bye:     make(chan []byte, 1),
		window:  make(chan struct{}, cfg.Window),
		pacer:   newPacer(ceiling),
		dead:    make(chan struct{}),
		unbound: make(chan struct{}),
		pending: make(map[uint32]*inflight, cfg.Window),
	}
	s.seq.Store(1)
	s.lastRead.Store(time.Now().UnixNano())
	// The reader keeps r: it may already hold bytes read past the bind_resp.
	s.reader = r
	return s, nil
}

func bindingType(kind uint32) pdu.BindingType {
	switch kind {
	case cmdBindReceiver:
		return pdu.Receiver
	case cmdBindTransmitter:
		return pdu.Transmitter
	}
	return pdu.Transceiver
}

// run starts the session's other goroutines and blocks until it dies; then
// it hands every submit still waiting for an answer back to the queue.
func (s *session) run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.readLoop(s.reader) }()
	go func() { defer wg.Done(); s.writeLoop() }()
	go func() { defer wg.Done(); s.keepalive(ctx) }()
	if s.transmits() {
		wg.Add(1)
		go func() { defer wg.Done(); s.submitLoop() }()
	}
	<-s.dead
	_ = s.conn.Close()
	wg.Wait()
	s.mu.Lock()
	err := s.err
	pending := s.pending
	s.pending = map[uint32]*inflight{}
	s.mu.Unlock()
	// A drop we caused, or an unbind the SMSC asked for, is no message's
	// fault; any other end of the link may be the fault of what was in
	// flight.
	blameless := ctx.Err() != nil || s.draining.Load() || s.peerUnbound.Load()
	for _, inf := range pending {
		if inf.part == nil {
			continue
		}
		// No submit_sm_resp was read for these, so sending them again
		// cannot duplicate an answer we saw.
		if blameless {
			s.p.requeue(inf.part)
		} else {
			s.p.dropped(inf.part, err)
		}
	}
	return err
}

// die ends the session with err (the first cause wins).
func (s *session) die(err error) {
	s.dieOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.isDead = true
		s.mu.Unlock()
		close(s.dead)
		_ = s.conn.Close()
	})
}

func (s *session) nextSeq() uint32 {
	for {
		v := s.seq.Add(1) & 0x7FFFFFFF
		if v != 0 {
			return v
		}
	}
}

// send queues a frame for the writer; false if the session is dead.
func (s *session) send(b []byte) bool {
	select {
	case s.out <- b:
		return true
	case <-s.dead:
		return false
	}
}

// writeLoop writes queued frames, flushing once the queue is empty, so a
// full window goes out in few syscalls while a lone submit is not delayed.
// A farewell frame ends it: written and flushed after what was already
// written, with nothing after it, then our side of the connection is closed.
func (s *session) writeLoop() {
	w := bufio.NewWriterSize(s.conn, 64<<10)
	for {
		select {
		case <-s.dead:
			return
		case b := <-s.bye:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.p.cfg.responseTimeout))
			_, _ = w.Write(b)
			if err := w.Flush(); err != nil {
				s.die(fmt.Errorf("write to SMSC: %w", err))
				return
			}
			s.closeWrite()
			return
		case b := <-s.out:
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.p.cfg.responseTimeout))
			_, _ = w.Write(b)
		more:
			for {
				select {
				case b = <-s.out:
					_, _ = w.Write(b)
				default:
					break more
				}
			}
			if err := w.Flush(); err != nil {
				s.die(fmt.Errorf("write to SMSC: %w", err))
				return
			}
		}
	}
}

// farewell sends b as the session's last frame: it is written and flushed
// before our side of the connection is closed, and the reader goes on until
// the SMSC closes its side (bounded by response_timeout), so answers already
// on their way are still read. Closing at once could lose b: an unbind_resp
// queued 2 ms before the socket closed never reached the SMSC. Submits not
// yet written are not sent: the session's end puts them back in line.
func (s *session) farewell(b []byte) {
	s.draining.Store(true)
	_ = s.conn.SetReadDeadline(time.Now().Add(s.p.cfg.responseTimeout))
	select {
	case s.bye <- b:
	default: // a farewell is under way already
	}
}

// closeWrite half-closes the connection (TCP FIN, TLS close_notify), or
// closes it where that is not possible.
func (s *session) closeWrite() {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return
	}
	s.die(errors.New("the SMSC unbound the session"))
}

// frameHeader is the 16-octet PDU header.
type frameHeader struct {
	length, id, status, seq uint32
}

func readFrame(r *bufio.Reader) (frameHeader, []byte, error) {
	var hb [16]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return frameHeader{}, nil, err
	}
	h := frameHeader{
		length: binary.BigEndian.Uint32(hb[0:]),
		id:     binary.BigEndian.Uint32(hb[4:]),
		status: binary.BigEndian.Uint32(hb[8:]),
		seq:    binary.BigEndian.Uint32(hb[12:]),
	}
	if h.length < 16 || h.length > maxFrame {
		return h, nil, fmt.Errorf("SMSC sent a PDU with command_length %d (want 16..%d); the stream cannot be resynchronised", h.length, maxFrame)
	}
	frame := make([]byte, h.length)
	copy(frame, hb[:])
	if _, err := io.ReadFull(r, frame[16:]); err != nil {
		return h, nil, err
	}
	return h, frame, nil
}

// header builds a body-less PDU.
func header(id, status, seq uint32, body ...byte) []byte {
	b := make([]byte, 16+len(body))
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)))
	binary.BigEndian.PutUint32(b[4:], id)
	binary.BigEndian.PutUint32(b[8:], status)
	binary.BigEndian.PutUint32(b[12:], seq)
	copy(b[16:], body)
	return b
}

func (s *session) readLoop(r *bufio.Reader) {
	for {
		h, frame, err := readFrame(r)
		if err != nil {
			select {
			case <-s.dead:
			default:
				switch {
				case s.peerUnbound.Load():
					s.die(errors.New("the SMSC unbound the session"))
					return
				case errors.Is(err, io.EOF):
					err = errors.New("the SMSC closed the connection")
				}
				s.die(fmt.Errorf("read from SMSC: %w", err))
			}
			return
		}
		s.lastRead.Store(time.Now().UnixNano())
		switch h.id {
		case cmdSubmitSMResp:
			s.onSubmitResp(h, frame[16:])
		case cmdDeliverSM:
			p, err := pdu.Parse(bytes.NewReader(frame))
			dsm, ok := p.(*pdu.DeliverSM)
			if err != nil || !ok {
				s.p.logger.Warn("SMSC sent a deliver_sm that does not parse; answering generic_nack", "seq", h.seq, "error", err)
				s.send(header(cmdGenericNack, 0x02, h.seq))
				continue
			}
			s.p.deliver(s, h.seq, dsm)
		case cmdEnquireLink:
			s.send(header(cmdEnquireLinkResp, statusOK, h.seq))
		case cmdEnquireLinkResp:
			s.mu.Lock()
			delete(s.pending, h.seq)
			s.mu.Unlock()
		case cmdUnbind:
			s.peerUnbound.Store(true)
			s.farewell(header(cmdUnbindResp, statusOK, h.seq))
		case cmdUnbindResp:
			close(s.unbound)
		case cmdGenericNack:
			s.onSubmitResp(h, nil)
		default:
			if h.id&respBit == 0 {
				s.send(header(cmdGenericNack, 0x03, h.seq))
			}
		}
	}
}

// onSubmitResp matches a submit_sm_resp (or generic_nack) to its submit.
func (s *session) onSubmitResp(h frameHeader, body []byte) {
	s.mu.Lock()
	inf, ok := s.pending[h.seq]
	if ok {
		delete(s.pending, h.seq)
	}
	s.mu.Unlock()
	if !ok {
		if h.id == cmdGenericNack && h.seq == 0 {
			s.die(fmt.Errorf("SMSC sent generic_nack 0x%08X without a sequence number; cannot tell which request failed", h.status))
		}
		return
	}
	if inf.part == nil {
		return
	}
	<-s.window
	id := ""
	if len(body) > 0 {
		if i := indexZero(body); i >= 0 {
			id = string(body[:i])
		} else {
			id = string(body)
		}
	}
	s.p.answered(s, inf.part, h.status, id)
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// keepalive sends enquire_link on an idle link and drops the session when
// the SMSC stops answering submits or enquire_links.
func (s *session) keepalive(ctx context.Context) {
	cfg := s.p.cfg
	tick := min(cfg.enquireLink, cfg.responseTimeout) / 4
	tick = max(tick, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastEnquire time.Time
	for {
		select {
		case <-s.dead:
			return
		case <-ctx.Done():
			s.die(errors.New("provider closing"))
			return
		case now := <-t.C:
			s.mu.Lock()
			var overdue time.Time
			for _, inf := range s.pending {
				if now.Sub(inf.sentAt) > cfg.responseTimeout && (overdue.IsZero() || inf.sentAt.Before(overdue)) {
					overdue = inf.sentAt
				}
			}
			s.mu.Unlock()
			if !overdue.IsZero() {
				s.die(fmt.Errorf("no answer from the SMSC within response_timeout %s; reconnecting", cfg.responseTimeout))
				return
			}
			idle := now.Sub(time.Unix(0, s.lastRead.Load()))
			if idle >= cfg.enquireLink && now.Sub(lastEnquire) >= cfg.enquireLink {
				seq := s.nextSeq()
				s.mu.Lock()
				s.pending[seq] = &inflight{sentAt: now}
				s.mu.Unlock()
				lastEnquire = now
				s.send(header(cmdEnquireLink, statusOK, seq))
			}
		}
	}
}

// submitLoop takes parts from the provider's queue while the window has
// room, paced by the bind's rate.
func (s *session) submitLoop() {
	for {
		select {
		case s.window <- struct{}{}:
		case <-s.dead:
			return
		}
		if s.draining.Load() {
			<-s.window
			return
		}
		pt := s.p.nextPart(s.dead)
		if pt == nil {
			return
		}
		if wait := s.pacer.reserve(time.Now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.dead:
				t.Stop()
				s.p.putBack(pt)
				return
			}
		}
		if s.draining.Load() {
			// Unbinding since the part was taken: it goes to another bind.
			s.p.putBack(pt)
			<-s.window
			return
		}
		if !pt.claim() {
			<-s.window
			continue
		}
		// Computed here, not when the message was queued: a part may wait
		// for a window slot, a throttled rate or a reconnect.
		validity, ok := validityPeriod(s.p.cfg.ValidityPeriod, pt.req.msg.ValidUntil, s.p.now())
		if !ok {
			s.p.expire(pt)
			<-s.window
			continue
		}
		// A part that was in flight when a connection dropped goes out
		// alone: if it is what makes the SMSC fall over, only it is
		// counted for the next drop, not the window that went with it.
		suspect := pt.suspect()
		if suspect && !s.awaitNoSubmits() {
			s.p.requeue(pt)
			return
		}
		seq := s.nextSeq()
		b := pt.frame(seq, validity)
		s.mu.Lock()
		if s.isDead {
			s.mu.Unlock()
			s.p.requeue(pt)
			return
		}
		s.pending[seq] = &inflight{part: pt, sentAt: time.Now()}
		s.mu.Unlock()
		if !s.send(b) {
			return // run() requeues what is pending
		}
		if suspect && !s.awaitNoSubmits() {
			return
		}
	}
}

// awaitNoSubmits waits until no submit is in flight on the session; false
// if it died first. It polls: it runs only after a connection dropped.
func (s *session) awaitNoSubmits() bool {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		n := 0
		for _, inf := range s.pending {
			if inf.part != nil {
				n++
			}
		}
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-t.C:
		case <-s.dead:
			return false
		}
	}
}

// respond answers a deliver_sm; a dead session cannot, and the SMSC will
// deliver again on the next bind.
func (s *session) respond(seq, status uint32) {
	s.send(header(cmdDeliverSMResp, status, seq, 0))
}

// unbind stops new submits, waits (up to ctx) for outstanding answers, then
// unbinds politely.
func (s *session) unbind(ctx context.Context) {
	s.draining.Store(true)
	for {
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		if n == 0 || ctx.Err() != nil {
			break
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		case <-s.dead:
			t.Stop()
			return
		}
	}
	if !s.send(header(cmdUnbind, statusOK, s.nextSeq())) {
		return
	}
	select {
	case <-s.unbound:
	case <-s.dead:
	case <-ctx.Done():
	}
	s.die(errors.New("unbound: provider closing"))
}
