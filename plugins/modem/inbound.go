package modem

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"

	"github.com/smsrouter/smsrouter/sdk"
)

// received handles a TPDU a port read: a status report or an inbound
// message. index is its storage index, or -1 when it came directly; a
// stored one is deleted once the host stored what it carried.
func (p *Provider) received(pt *port, tp tpdu.TPDU, index int) {
	del := func() {
		if index >= 0 {
			pt.stored([]int{index})
		}
	}
	switch tp.SmsType() {
	case tpdu.SmsStatusReport:
		ev, ok := p.reports.report(pt.cfg.Path, tp)
		if !ok {
			// A part of a longer message, a report still in progress or
			// one about a message this process did not send: nothing to
			// store, so nothing to keep on the SIM.
			del()
			return
		}
		// The journal ends the message only once the host stored its
		// event: a crash before that emits it again at the next start.
		p.emit(ev, func() {
			p.reports.ended(ev.Status.ProviderMessageID)
			del()
		})
	case tpdu.SmsDeliver:
		p.mo.add(pt, tp, index)
	default:
		p.log.Warn("unexpected PDU type from the modem", "port", pt.cfg.Path, "type", tp.SmsType().String())
		del()
	}
}

// moKey groups the parts of one concatenated inbound message.
type moKey struct {
	port  *port
	from  string
	ref   int
	total int
}

// moParts are the parts of one message that arrived so far.
type moParts struct {
	parts   map[int]*tpdu.TPDU // by sequence number, from 1
	indexes []int
	timer   *time.Timer
}

// assembler reassembles concatenated inbound messages. A message whose
// parts do not all arrive within the timeout is delivered as what came,
// in order, rather than lost.
type assembler struct {
	timeout time.Duration
	done    func(pt *port, parts []*tpdu.TPDU, indexes []int)

	mu      sync.Mutex
	pending map[moKey]*moParts
	stopped bool
}

func newAssembler(timeout time.Duration, done func(*port, []*tpdu.TPDU, []int)) *assembler {
	return &assembler{timeout: timeout, done: done, pending: map[moKey]*moParts{}}
}

func (a *assembler) add(pt *port, tp tpdu.TPDU, index int) {
	total, seq, ref, ok := tp.ConcatInfo()
	if !ok || total < 2 || seq < 1 || seq > total {
		a.done(pt, []*tpdu.TPDU{&tp}, indexesOf(index))
		return
	}
	k := moKey{port: pt, from: tp.OA.Number(), ref: ref, total: total}
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	mp, ok := a.pending[k]
	if !ok {
		mp = &moParts{parts: map[int]*tpdu.TPDU{}}
		a.pending[k] = mp
		mp.timer = time.AfterFunc(a.timeout, func() { a.expire(k, mp) })
	}
	if _, dup := mp.parts[seq]; !dup {
		mp.parts[seq] = &tp
	}
	mp.indexes = append(mp.indexes, indexesOf(index)...)
	complete := len(mp.parts) == total
	if complete {
		mp.timer.Stop()
		delete(a.pending, k)
	}
	a.mu.Unlock()
	if complete {
		a.done(pt, ordered(mp.parts), mp.indexes)
	}
}

func (a *assembler) expire(k moKey, mp *moParts) {
	a.mu.Lock()
	if a.stopped || a.pending[k] != mp {
		a.mu.Unlock()
		return
	}
	delete(a.pending, k)
	a.mu.Unlock()
	a.done(k.port, ordered(mp.parts), mp.indexes)
}

// stop drops what is pending: stored parts stay on the SIM and are read
// again at the next start.
func (a *assembler) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	for _, mp := range a.pending {
		mp.timer.Stop()
	}
	a.pending = map[moKey]*moParts{}
}

func indexesOf(index int) []int {
	if index < 0 {
		return nil
	}
	return []int{index}
}

func ordered(parts map[int]*tpdu.TPDU) []*tpdu.TPDU {
	seqs := make([]int, 0, len(parts))
	for s := range parts {
		seqs = append(seqs, s)
	}
	sort.Ints(seqs)
	out := make([]*tpdu.TPDU, len(seqs))
	for i, s := range seqs {
		out[i] = parts[s]
	}
	return out
}

// inboundDone emits a reassembled (or timed-out) inbound message, then
// deletes its parts from the SIM.
func (p *Provider) inboundDone(pt *port, parts []*tpdu.TPDU, indexes []int) {
	text, err := sms.Decode(parts)
	if err != nil {
		p.log.Warn("inbound message undecodable; kept on the SIM", "port", pt.cfg.Path, "error", err)
		return
	}
	first := parts[0]
	in := &sdk.InboundEvent{
		From: first.OA.Number(),
		To:   pt.sender(),
		Text: string(text),
		At:   first.SCTS.Time,
	}
	// Inbound SMS carry no id: the event id is the content, originator
	// and the SMSC's time stamp, so the same message read twice (deleted
	// too late, read again at start) is stored once.
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%s", in.From, in.To, first.SCTS.Format(time.RFC3339), in.Text)))
	ev := sdk.Event{ID: "mo-" + hex.EncodeToString(sum[:16]), Inbound: in, DuplicateWindow: p.cfg.DuplicateWindow.D()}
	p.emit(ev, func() { pt.stored(indexes) })
}
