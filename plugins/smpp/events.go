package smpp

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/linxGnu/gosmpp/pdu"

	"github.com/smsrouter/smsrouter/sdk"
)

// inboundPDU is a deliver_sm waiting for the host, and where to answer it.
type inboundPDU struct {
	s   *session
	seq uint32
	dsm *pdu.DeliverSM
}

// deliver is called by a session's reader. When the host is far behind it
// waits for room, and with it the reader: the SMSC's writes then wait on
// TCP, which slows it down without refusing (and so without resending)
// anything. A session that dies meanwhile drops the PDU; the SMSC delivers
// what was not answered again on the next bind.
func (p *Provider) deliver(s *session, seq uint32, dsm *pdu.DeliverSM) {
	select {
	case p.inbound <- inboundPDU{s: s, seq: seq, dsm: dsm}:
	case <-s.dead:
	case <-p.closing:
	}
}

// Events turns deliver_sm into status and inbound events, each emitted as
// soon as it arrives (up to maxEmits waiting for the host), so that the
// host can store together what arrives together. Each deliver_sm is
// answered only after emit returned: ROK once the host stored the event,
// ESME_RX_T_APPN when it did not, so the SMSC delivers it again.
func (p *Provider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	if !p.configured.Load() {
		return errNotConfigured
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, p.maxEmits)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		case <-p.closing:
			return nil
		}
		select {
		case in := <-p.inbound:
			wg.Go(func() {
				defer func() { <-slots }()
				in.s.respond(in.seq, p.handleDeliver(ctx, emit, in))
			})
		case <-ctx.Done():
			return nil
		case <-p.closing:
			return nil
		}
	}
}

// handleDeliver emits what one deliver_sm says and returns the
// command_status for its deliver_sm_resp.
func (p *Provider) handleDeliver(ctx context.Context, emit sdk.EmitFunc, in inboundPDU) uint32 {
	dsm := in.dsm
	if dsm.EsmClass&0x3C == 0x04 {
		return p.handleReceipt(ctx, emit, dsm)
	}
	return p.handleInbound(ctx, emit, dsm)
}

func shortMessageBytes(dsm *pdu.DeliverSM) []byte {
	if f, ok := dsm.OptionalParameters[pdu.TagMessagePayload]; ok && len(f.Data) > 0 {
		return f.Data
	}
	b, _ := dsm.Message.GetMessageData()
	return b
}

// handleReceipt emits a receipt. Its event id is a hash of its content, valid
// for duplicate_window: SMSCs reuse message ids (a restart begins again at
// 1), so an id and stat alone would make a later message's receipt look
// like a repeat of an earlier one's, while a redelivery of the same receipt
// (its answer was lost) repeats its content. The receipt's source_addr, the
// message's recipient, goes with it for the host to tell apart messages
// that were given one id.
func (p *Provider) handleReceipt(ctx context.Context, emit sdk.EmitFunc, dsm *pdu.DeliverSM) uint32 {
	r := parseReceipt(string(shortMessageBytes(dsm)), dsm.OptionalParameters)
	if r.id == "" || r.stat == "" {
		// Asking for it again would bring back the same unusable receipt.
		p.logger.Warn("SMSC sent a delivery receipt without an id or stat; ignoring it", "id", r.id, "stat", r.stat)
		return statusOK
	}
	id := p.norm.fromReceipt(r.id)
	at := r.done
	if at.IsZero() {
		at = time.Now().UTC()
	}
	ev := sdk.StatusEvent{ProviderMessageID: id, Status: statusOf(r.stat), ProviderStatus: r.stat, ErrorCode: r.errorCode, At: at,
		Recipient: phoneNumber(dsm.SourceAddr, p.cfg.Country)}
	g := p.groups.lookup(ctx, id, p.cfg.responseTimeout)
	if g != nil {
		merged, ready := g.record(id, ev)
		if !ready {
			return statusOK
		}
		ev = merged
	}
	err := emit(ctx, sdk.Event{ID: "dlr-" + receiptHash(dsm), Status: &ev, DuplicateWindow: p.cfg.duplicateWindow})
	if err != nil {
		p.logger.Warn("host did not store a delivery receipt; the SMSC will deliver it again", "provider_id", id, "error", err)
		return statusRxTAppn
	}
	if g != nil {
		p.groups.forget(g)
	}
	return statusOK
}

func (p *Provider) handleInbound(ctx context.Context, emit sdk.EmitFunc, dsm *pdu.DeliverSM) uint32 {
	coding := byte(0)
	if enc := dsm.Message.Encoding(); enc != nil {
		coding = enc.DataCoding()
	}
	body := shortMessageBytes(dsm)
	from, to := phoneNumber(dsm.SourceAddr, p.cfg.Country), phoneNumber(dsm.DestAddr, p.cfg.Country)
	total, seq, ref, concat := concatInfo(dsm)
	var chunks [][]byte
	key := ""
	if concat && total > 1 {
		key = fmt.Sprintf("%s|%s|%d|%d", from, to, ref, total)
		var complete bool
		chunks, complete = p.mo.add(key, int(seq), int(total), coding, body)
		if !complete {
			return statusOK
		}
	} else {
		chunks = [][]byte{body}
	}
	var text strings.Builder
	h := sha256.New()
	h.Write([]byte(from + "|" + to + "|"))
	for _, c := range chunks {
		text.WriteString(decodeText(coding, c))
		h.Write(c)
	}
	if f, ok := dsm.OptionalParameters[pdu.TagUserMessageReference]; ok {
		h.Write(f.Data)
	}
	id := "mo-" + hex.EncodeToString(h.Sum(nil)[:12])
	ev := sdk.InboundEvent{ProviderMessageID: id, From: from, To: to, Text: text.String(), At: time.Now().UTC()}
	// The id is the content's: the same text from the same handset later
	// is a new message, so it marks repeats only within duplicate_window.
	if err := emit(ctx, sdk.Event{ID: id, Inbound: &ev, DuplicateWindow: p.cfg.duplicateWindow}); err != nil {
		p.logger.Warn("host did not store an inbound message; the SMSC will deliver it again", "from", from, "error", err)
		return statusRxTAppn
	}
	if key != "" {
		p.mo.forget(key)
	}
	return statusOK
}

// receiptHash identifies a receipt's content for duplicate detection: its
// addresses, text and TLVs. The TLVs are read in tag order, since an SMSC
// that encodes a redelivery anew may write them in another order (gosmpp,
// for one, writes them in map order).
func receiptHash(dsm *pdu.DeliverSM) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d/%d/%s|%d/%d/%s|%d|%d|", dsm.SourceAddr.Ton(), dsm.SourceAddr.Npi(), dsm.SourceAddr.Address(),
		dsm.DestAddr.Ton(), dsm.DestAddr.Npi(), dsm.DestAddr.Address(), dsm.EsmClass, dsm.Message.Encoding().DataCoding())
	h.Write(shortMessageBytes(dsm))
	for _, tag := range slices.Sorted(maps.Keys(dsm.OptionalParameters)) {
		f := dsm.OptionalParameters[tag]
		_ = binary.Write(h, binary.BigEndian, [2]uint16{uint16(tag), uint16(len(f.Data))})
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// concatInfo reads a part's concatenation data from its UDH or SAR TLVs.
func concatInfo(dsm *pdu.DeliverSM) (total, seq byte, ref uint16, ok bool) {
	if dsm.EsmClass&0x40 != 0 {
		if t, s, r, found := dsm.Message.UDH().GetConcatInfo(); found {
			return t, s, uint16(r), true
		}
		// 16-bit reference (IEI 0x08).
		for _, ie := range dsm.Message.UDH() {
			if ie.ID == 0x08 && len(ie.Data) == 4 {
				return ie.Data[2], ie.Data[3], binary.BigEndian.Uint16(ie.Data), true
			}
		}
	}
	f1, ok1 := dsm.OptionalParameters[pdu.TagSarMsgRefNum]
	f2, ok2 := dsm.OptionalParameters[pdu.TagSarTotalSegments]
	f3, ok3 := dsm.OptionalParameters[pdu.TagSarSegmentSeqnum]
	if ok1 && ok2 && ok3 && len(f1.Data) == 2 && len(f2.Data) == 1 && len(f3.Data) == 1 {
		return f2.Data[0], f3.Data[0], binary.BigEndian.Uint16(f1.Data), true
	}
	return 0, 0, 0, false
}

// assembler holds the parts of inbound concatenated messages until all have
// arrived. Parts are acknowledged as they come, so a plugin restart loses
// an incomplete message's earlier parts (documented in the package doc).
type assembler struct {
	mu    sync.Mutex
	parts map[string]*moParts
}

type moParts struct {
	chunks  [][]byte
	have    int
	started time.Time
}

// maxAssemblies bounds incomplete inbound messages kept; the oldest go.
const maxAssemblies = 10000

func newAssembler() *assembler { return &assembler{parts: map[string]*moParts{}} }

func (a *assembler) add(key string, seq, total int, coding byte, body []byte) ([][]byte, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.parts[key]
	if !ok {
		if len(a.parts) >= maxAssemblies {
			a.evictOldestLocked()
		}
		m = &moParts{chunks: make([][]byte, total), started: time.Now()}
		a.parts[key] = m
	}
	if seq < 1 || seq > len(m.chunks) {
		return nil, false
	}
	if m.chunks[seq-1] == nil {
		m.have++
	}
	m.chunks[seq-1] = append([]byte(nil), body...)
	if m.have < len(m.chunks) {
		return nil, false
	}
	return m.chunks, true
}

func (a *assembler) evictOldestLocked() {
	var oldest string
	var at time.Time
	for k, m := range a.parts {
		if oldest == "" || m.started.Before(at) {
			oldest, at = k, m.started
		}
	}
	delete(a.parts, oldest)
}

func (a *assembler) forget(key string) {
	a.mu.Lock()
	delete(a.parts, key)
	a.mu.Unlock()
}

// groupTable maps the part ids of accepted multipart messages to their
// group, so the message is reported delivered only when every part is.
type groupTable struct {
	// pending counts multipart messages whose parts are not all answered;
	// while there are any, an unknown receipt id may still become a part.
	pending atomic.Int64
	mu      sync.Mutex
	byPart  map[string]*group
	changed chan struct{} // closed and replaced when a group is registered
}

type group struct {
	primary string // first part's id: the message's provider id
	ids     []string
	mu      sync.Mutex
	final   map[string]sdk.StatusEvent
}

// maxGroups bounds the multipart messages awaiting receipts.
const maxGroups = 100000

func newGroupTable() *groupTable {
	return &groupTable{byPart: map[string]*group{}, changed: make(chan struct{})}
}

func (t *groupTable) register(r *request) {
	g := &group{final: map[string]sdk.StatusEvent{}}
	for _, pt := range r.parts {
		pt.mu.Lock()
		id, ok := pt.id, pt.outcome == sdk.Accepted
		pt.mu.Unlock()
		if !ok {
			return // partly rejected: its parts report under their own ids
		}
		g.ids = append(g.ids, id)
	}
	g.primary = g.ids[0]
	t.mu.Lock()
	if len(t.byPart) >= maxGroups {
		clear(t.byPart)
	}
	for _, id := range g.ids {
		t.byPart[id] = g
	}
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

// lookup finds id's group. A receipt can beat its own submit_sm_resp (or
// the last part's), so an id not found yet is looked up again as groups are
// registered, for up to wait.
func (t *groupTable) lookup(ctx context.Context, id string, wait time.Duration) *group {
	var deadline *time.Timer // made only when it must wait: receipts are hot
	for {
		t.mu.Lock()
		g, pendingMulti := t.byPart[id], t.pending.Load() > 0
		changed := t.changed
		t.mu.Unlock()
		if g != nil || !pendingMulti {
			return g
		}
		if deadline == nil {
			deadline = time.NewTimer(wait)
			defer deadline.Stop()
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// release marks a multipart request as no longer awaiting answers.
func (t *groupTable) release(r *request) {
	r.mu.Lock()
	counted := r.counted
	r.counted = false
	r.mu.Unlock()
	if !counted {
		return
	}
	t.pending.Add(-1)
	t.mu.Lock()
	close(t.changed)
	t.changed = make(chan struct{})
	t.mu.Unlock()
}

func (t *groupTable) forget(g *group) {
	t.mu.Lock()
	for _, id := range g.ids {
		delete(t.byPart, id)
	}
	t.mu.Unlock()
}

// record adds one part's receipt. It returns the event to emit for the
// whole message once that is known: the first part that failed, or
// delivered when every part is.
func (g *group) record(id string, ev sdk.StatusEvent) (sdk.StatusEvent, bool) {
	if !ev.Status.Final() && ev.Status != sdk.StatusUnknown {
		return ev, false // intermediate (ENROUTE, ACCEPTD): nothing to say yet
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.final[id] = ev
	out := ev
	out.ProviderMessageID = g.primary
	if ev.Status != sdk.StatusDelivered {
		return out, true
	}
	for _, pid := range g.ids {
		pe, ok := g.final[pid]
		if !ok {
			return ev, false
		}
		if pe.At.After(out.At) {
			out.At = pe.At
		}
	}
	return out, true
}
