package smsctest

import (
	"container/heap"
	"fmt"
	"strings"
	"time"

	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
)

// delivery is a deliver_sm (receipt or inbound message) the SMSC owes an
// ESME until one answers it with ESME_ROK.
type delivery struct {
	dsm     *pdu.DeliverSM
	receipt bool
	due     time.Time
	index   int
}

type deliveryHeap []*delivery

func (h deliveryHeap) Len() int           { return len(h) }
func (h deliveryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h deliveryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *deliveryHeap) Push(x any)        { d := x.(*delivery); d.index = len(*h); *h = append(*h, d) }
func (h *deliveryHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// schedule queues d; with via set it goes out on that session at once.
func (s *Server) schedule(d *delivery, via *conn) {
	if via != nil && via.receives() && via.send(d) == sent {
		return
	}
	s.dmu.Lock()
	heap.Push(&s.due, d)
	s.dmu.Unlock()
	s.kick()
}

func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Server) requeue(ds []*delivery) {
	if len(ds) == 0 || s.cfg.DropWhenUnbound {
		return
	}
	now := time.Now()
	s.dmu.Lock()
	for _, d := range ds {
		d.due = now
		heap.Push(&s.due, d)
	}
	s.dmu.Unlock()
	s.kick()
}

func (s *Server) receivers() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for c := range s.conns {
		if c.receives() {
			out = append(out, c)
		}
	}
	return out
}

// deliverLoop sends deliveries that are due to bound receivers, round
// robin; with none bound they wait RedeliverAfter and try again.
func (s *Server) deliverLoop() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		var ready []*delivery
		next := time.Hour
		s.dmu.Lock()
		// Deliveries held back by full windows go first, in their order.
		ready = append(ready, s.blocked...)
		s.blocked = s.blocked[:0]
		for s.due.Len() > 0 {
			d := s.due[0]
			if d.due.After(now) {
				next = d.due.Sub(now)
				break
			}
			ready = append(ready, heap.Pop(&s.due).(*delivery))
		}
		s.dmu.Unlock()
		if len(ready) > 0 {
			rcv := s.receivers()
			var later, full []*delivery
			for i, d := range ready {
				if len(full) > 0 {
					// Every window is full: the rest wait too, untried,
					// or each answer would cost a pass over the backlog.
					full = append(full, ready[i:]...)
					break
				}
				outcome := refused
				for range rcv {
					c := rcv[s.rr%len(rcv)]
					s.rr++
					if outcome = max(outcome, c.send(d)); outcome == sent {
						break
					}
				}
				switch outcome {
				case windowFull:
					full = append(full, d)
				case refused:
					later = append(later, d)
				}
			}
			if len(full) > 0 {
				// Sent again when an answer frees a window (onDeliverResp
				// kicks this loop), not on a timer.
				s.dmu.Lock()
				s.blocked = append(full, s.blocked...)
				s.dmu.Unlock()
			}
			if len(later) > 0 && !s.cfg.DropWhenUnbound {
				due := now.Add(s.cfg.RedeliverAfter)
				s.dmu.Lock()
				for _, d := range later {
					d.due = due
					heap.Push(&s.due, d)
				}
				s.dmu.Unlock()
				next = min(next, s.cfg.RedeliverAfter)
			}
			if len(full) < len(ready) {
				continue
			}
		}
		t.Reset(next)
		select {
		case <-s.closed:
			return
		case <-s.wake:
			if !t.Stop() {
				<-t.C
			}
		case <-t.C:
		}
	}
}

// sendOutcome says what became of a delivery offered to a session.
type sendOutcome int

const (
	refused    sendOutcome = iota // the session cannot take deliveries
	windowFull                    // it can, once it answers one
	sent
)

// send writes d on this session.
func (c *conn) send(d *delivery) sendOutcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropping || !c.receives() {
		return refused
	}
	select {
	case <-c.done:
		return refused
	default:
	}
	if len(c.deliveries) >= c.s.cfg.DeliverWindow {
		return windowFull
	}
	seq := c.nextSeq()
	d.dsm.SetSequenceNumber(int32(seq))
	buf := pdu.NewBuffer(make([]byte, 0, 128))
	d.dsm.Marshal(buf)
	c.deliveries[seq] = d
	select {
	case c.out <- buf.Bytes():
	case <-c.done:
		delete(c.deliveries, seq)
		return refused
	}
	if d.receipt {
		c.s.stats.receiptsSent.Add(1)
	}
	return sent
}

func (c *conn) onDeliverResp(seq, status uint32) {
	c.mu.Lock()
	d, ok := c.deliveries[seq]
	delete(c.deliveries, seq)
	c.mu.Unlock()
	if !ok {
		return
	}
	s := c.s
	s.kick() // a window slot is free
	if status != 0 {
		s.stats.deliverRefused.Add(1)
		s.notify()
		d.due = time.Now().Add(s.cfg.RedeliverAfter)
		s.dmu.Lock()
		heap.Push(&s.due, d)
		s.dmu.Unlock()
		s.kick()
		return
	}
	if d.receipt {
		s.stats.receiptsAcked.Add(1)
	} else {
		s.stats.inboundAcked.Add(1)
	}
	s.notify()
}

// unanswered takes the deliveries a closed session never answered.
func (c *conn) unanswered() []*delivery {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*delivery, 0, len(c.deliveries))
	for _, d := range c.deliveries {
		out = append(out, d)
	}
	clear(c.deliveries)
	return out
}

// InjectMO queues a mobile-originated message from a handset. Text that is
// not GSM 03.38 goes as UCS-2; text too long for one SMS is split into
// concatenated parts with a UDH, as a handset sends them.
func (s *Server) InjectMO(from, to, text string) error {
	enc := data.GSM7BIT
	if b, err := data.GSM7BIT.Encode(text); err != nil {
		enc = data.UCS2
	} else if back, err := data.GSM7BIT.Decode(b); err != nil || back != text {
		enc = data.UCS2
	}
	parts, err := pdu.NewLongMessageWithEncoding(text, enc)
	if err != nil {
		return fmt.Errorf("smsc simulator: encode inbound message: %w", err)
	}
	now := time.Now()
	for _, sm := range parts {
		d := pdu.NewDeliverSM().(*pdu.DeliverSM)
		d.SourceAddr = address(from)
		d.DestAddr = address(to)
		d.Message = *sm
		if len(parts) > 1 {
			d.EsmClass = 0x40
		}
		s.schedule(&delivery{dsm: d, due: now}, nil)
	}
	return nil
}

// address is how the simulator writes a handset or service number: "+"
// and digits as international (TON 1).
func address(a string) pdu.Address {
	if strings.HasPrefix(a, "+") {
		addr := pdu.NewAddressWithTonNpi(1, 1)
		_ = addr.SetAddress(strings.TrimPrefix(a, "+"))
		return addr
	}
	// Digits without "+" go as TON 0 ("unknown"), as many SMSCs write even
	// full international numbers; anything else is alphanumeric.
	ton, npi := byte(5), byte(0)
	if a != "" && strings.Trim(a, "0123456789") == "" {
		ton, npi = 0, 1
	}
	addr := pdu.NewAddressWithTonNpi(ton, npi)
	_ = addr.SetAddress(a)
	return addr
}
