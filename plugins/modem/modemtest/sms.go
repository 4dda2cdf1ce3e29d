package modemtest

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
)

// Sending: +CMGS opens the prompt; the body arrives in submit.

func (m *Modem) cmgs(c command) result {
	if c.form == formTest {
		return result{}
	}
	if m.st.locked {
		return m.cms(311)
	}
	if c.form != formSet {
		return m.cms(302)
	}
	if m.st.textMode {
		if c.arg(0) == "" {
			return m.cms(305)
		}
		return result{prompt: &pendingSend{text: true, to: c.arg(0)}}
	}
	n, ok := c.intArg(0)
	if !ok || n < 7 || n > 164 {
		return m.cms(304)
	}
	return result{prompt: &pendingSend{length: n}}
}

// submit takes a message body after Ctrl-Z. A send the plug does not
// survive (unplugged during the latency) never reached the network, so it
// is not reported as sent: the client may retry without a duplicate.
func (m *Modem) submit(p *plug, body string) {
	m.mu.Lock()
	if m.st.echo {
		p.write(body + string(rune(ctrlZ)))
	}
	pend := m.pending
	m.pending = nil
	sub, fail := m.accept(pend, body)
	extra, latency := m.extra, m.latency+m.slow["+CMGS"]
	m.extra = nil
	m.mu.Unlock()
	if !p.wait(latency) {
		return
	}
	if fail != "" {
		p.write(answer(nil, extra, fail))
		return
	}
	m.mu.Lock()
	sub.MR = m.st.nextMR()
	m.mu.Unlock()
	sub.At = time.Now()
	select {
	case m.sent <- sub:
	default:
		m.t.Errorf("modemtest: more than %d sent messages nobody read from Sent()", cap(m.sent))
	}
	p.write(answer([]string{fmt.Sprintf("+CMGS: %d", sub.MR)}, extra, "OK"))
	if sub.StatusReport {
		if st, send := m.opts.ReportStatus(sub); send {
			m.afterFunc(m.opts.ReportDelay, func() { m.SendStatusReport(sub, st) })
		}
	}
}

// accept checks a body like a modem and its network would; fail is the
// final result when it is refused. Runs with m.mu held.
func (m *Modem) accept(pend *pendingSend, body string) (Submitted, string) {
	if pend == nil {
		return Submitted{}, m.cms(302).final
	}
	if f, ok := m.takeFailure("+CMGS"); ok {
		return Submitted{}, f
	}
	if !m.st.registered() {
		return Submitted{}, m.cms(331).final
	}
	if pend.text {
		return m.acceptText(pend, body)
	}
	return m.acceptPDU(pend, body)
}

func (m *Modem) acceptText(pend *pendingSend, body string) (Submitted, string) {
	if m.st.smsc == "" {
		return Submitted{}, m.cms(330).final
	}
	t, err := tpdu.NewSubmit()
	if err != nil {
		return Submitted{}, m.cms(500).final
	}
	t.DA.SetNumber(pend.to)
	t.UD = []byte(body)
	return Submitted{To: pend.to, Text: body, StatusReport: m.st.csmpFO&tpdu.FoSRR != 0, TPDU: *t}, ""
}

func (m *Modem) acceptPDU(pend *pendingSend, body string) (Submitted, string) {
	raw, err := hex.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil {
		return Submitted{}, m.cms(304).final
	}
	pdu, err := pdumode.UnmarshalBinary(raw)
	if err != nil || len(pdu.TPDU) != pend.length {
		return Submitted{}, m.cms(304).final
	}
	if pdu.SMSC.Addr == "" && m.st.smsc == "" {
		return Submitted{}, m.cms(330).final
	}
	t, err := sms.Unmarshal(pdu.TPDU, sms.AsMO)
	if err != nil || t.SmsType() != tpdu.SmsSubmit {
		return Submitted{}, m.cms(304).final
	}
	text, _ := sms.Decode([]*tpdu.TPDU{t})
	sub := Submitted{To: t.DA.Number(), Text: string(text), StatusReport: t.FirstOctet.SRR(), TPDU: *t}
	if total, seq, ref, ok := t.ConcatInfo(); ok {
		sub.ConcatTotal, sub.ConcatSeq, sub.ConcatRef = total, seq, ref
	}
	return sub, ""
}

// SendStatusReport reports on s now with the given TP-Status (0x00
// delivered, 0x20-0x2F still trying, 0x40-0x6F failed), routed as +CNMI's
// ds asks: +CDS (ds=1), stored and announced by +CDSI (ds=2), or stored
// silently (ds=0, or while unplugged).
func (m *Modem) SendStatusReport(s Submitted, status byte) {
	now := tpdu.Timestamp{Time: time.Now()}
	rep := tpdu.TPDU{
		Direction:  tpdu.MT,
		FirstOctet: 0x06, // SMS-STATUS-REPORT, no more messages waiting
		MR:         byte(s.MR),
		RA:         s.TPDU.DA,
		SCTS:       now,
		DT:         now,
		ST:         status,
	}
	raw, err := rep.MarshalBinary()
	if err != nil {
		m.t.Errorf("modemtest: build a status report for mr %d: %v", s.MR, err)
		return
	}
	m.mu.Lock()
	p, ds, textMode := m.plug, m.st.cnmi[3], m.st.textMode
	var urc string
	switch {
	case p != nil && ds == 1 && textMode:
		urc = fmt.Sprintf(`+CDS: 6,%d,"%s",%d,"%s","%s",%d`, s.MR, rep.RA.Number(), toa(rep.RA),
			textTime(rep.SCTS), textTime(rep.DT), status)
	case p != nil && ds == 1:
		urc = fmt.Sprintf("+CDS: %d\r\n%s", len(raw), m.withSMSC(raw))
	default:
		idx, ok := m.st.store.put(raw)
		if ok && p != nil && ds == 2 {
			urc = fmt.Sprintf(`+CDSI: "SM",%d`, idx)
		}
	}
	m.mu.Unlock()
	if urc != "" {
		p.write("\r\n" + urc + "\r\n")
	}
}

// ErrStorageFull is returned by InjectInbound when the SIM has no room.
var ErrStorageFull = errors.New("modemtest: SIM message storage full")

// InjectInbound makes a message arrive from the network, as one or more
// SMS-DELIVER parts, routed as +CNMI's mt asks: +CMT (mt=2), stored and
// announced by +CMTI (mt=1), or stored silently (mt=0, or while
// unplugged). It returns the number of parts.
func (m *Modem) InjectInbound(in Inbound) (int, error) {
	m.mu.Lock()
	parts, err := m.enc.Encode([]byte(in.Text), sms.From(in.From))
	m.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("modemtest: encode inbound from %s: %w", in.From, err)
	}
	order := make([]int, 0, len(parts))
	for i := range parts {
		order = append(order, i+1)
	}
	if len(in.Parts) > 0 {
		order = in.Parts
	}
	if in.Reverse {
		for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
			order[i], order[j] = order[j], order[i]
		}
	}
	for _, n := range order {
		t := parts[n-1]
		t.SCTS = tpdu.Timestamp{Time: time.Now()}
		if err := m.deliver(&t); err != nil {
			return len(parts), err
		}
	}
	return len(parts), nil
}

func (m *Modem) deliver(t *tpdu.TPDU) error {
	raw, err := t.MarshalBinary()
	if err != nil {
		return fmt.Errorf("modemtest: marshal inbound: %w", err)
	}
	m.mu.Lock()
	p, mt, textMode := m.plug, m.st.cnmi[1], m.st.textMode
	var urc string
	switch {
	case p != nil && mt == 2 && textMode:
		text, _ := sms.Decode([]*tpdu.TPDU{t})
		urc = fmt.Sprintf(`+CMT: "%s",,"%s"`+"\r\n%s", t.OA.Number(), textTime(t.SCTS), text)
	case p != nil && mt == 2:
		urc = fmt.Sprintf("+CMT: ,%d\r\n%s", len(raw), m.withSMSC(raw))
	default:
		idx, ok := m.st.store.put(raw)
		if !ok {
			m.mu.Unlock()
			return ErrStorageFull
		}
		if p != nil && (mt == 1 || mt == 3) {
			urc = fmt.Sprintf(`+CMTI: "SM",%d`, idx)
		}
	}
	m.mu.Unlock()
	if urc != "" {
		p.write("\r\n" + urc + "\r\n")
	}
	return nil
}

// withSMSC renders a TPDU as PDU-mode hex, the SMSC address first.
func (m *Modem) withSMSC(raw []byte) string {
	pdu := pdumode.PDU{TPDU: raw}
	if m.st.smsc != "" {
		pdu.SMSC.SetNumber(m.st.smsc)
		pdu.SMSC.TOA |= 0x80 // SetNumber leaves the extension bit clear; gammu rejects that
	}
	s, err := pdu.MarshalHexString()
	if err != nil {
		s = hex.EncodeToString(raw)
	}
	return strings.ToUpper(s)
}

func toa(a tpdu.Address) int { return int(a.TOA | 0x80) }

// textTime renders a timestamp as text mode does: "yy/MM/dd,hh:mm:ss+zz",
// zz in quarter hours.
func textTime(ts tpdu.Timestamp) string {
	_, off := ts.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return ts.Format("06/01/02,15:04:05") + fmt.Sprintf("%c%02d", sign, off/900)
}

// Reading and deleting stored messages.

var textStat = map[int]string{0: "REC UNREAD", 1: "REC READ", 2: "STO UNSENT", 3: "STO SENT", 4: "ALL"}

func (m *Modem) cmgr(c command) result {
	if c.form == formTest {
		return result{}
	}
	if m.st.locked {
		return m.cms(311)
	}
	idx, ok := c.intArg(0)
	msg := m.st.store.msgs[idx]
	if !ok || msg == nil {
		return m.cms(321)
	}
	r := result{info: m.render(idx, msg, "+CMGR: ")}
	msg.stat = statRead
	return r
}

func (m *Modem) cmgl(c command) result {
	if m.st.locked {
		return m.cms(311)
	}
	if c.form == formTest {
		if m.st.textMode {
			return result{info: []string{`+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")`}}
		}
		return result{info: []string{"+CMGL: (0-4)"}}
	}
	want, ok := m.listStat(c)
	if !ok {
		return m.cms(302)
	}
	var info []string
	for _, idx := range m.st.store.indexes() {
		msg := m.st.store.msgs[idx]
		if want != 4 && msg.stat != want {
			continue
		}
		info = append(info, m.render(idx, msg, fmt.Sprintf("+CMGL: %d,", idx))...)
		msg.stat = statRead
	}
	return result{info: info}
}

// listStat reads +CMGL's <stat>: a number in PDU mode, a name in text mode;
// none means unread.
func (m *Modem) listStat(c command) (int, bool) {
	a := c.arg(0)
	if a == "" {
		return statUnread, true
	}
	if !m.st.textMode {
		n, err := strconv.Atoi(a)
		return n, err == nil && n >= 0 && n <= 4
	}
	for n, name := range textStat {
		if strings.EqualFold(name, a) {
			return n, true
		}
	}
	return 0, false
}

// render gives the lines of one stored message for +CMGR/+CMGL: the
// header (prefix then stat) and the PDU or text.
func (m *Modem) render(idx int, msg *stored, prefix string) []string {
	if !m.st.textMode {
		return []string{fmt.Sprintf("%s%d,,%d", prefix, msg.stat, len(msg.tpdu)), m.withSMSC(msg.tpdu)}
	}
	t, err := sms.Unmarshal(msg.tpdu)
	if err != nil {
		return []string{fmt.Sprintf(`%s"%s"`, prefix, textStat[msg.stat])}
	}
	if t.SmsType() == tpdu.SmsStatusReport {
		return []string{fmt.Sprintf(`%s"%s",6,%d,"%s",%d,"%s","%s",%d`, prefix, textStat[msg.stat],
			t.MR, t.RA.Number(), toa(t.RA), textTime(t.SCTS), textTime(t.DT), t.ST)}
	}
	text, _ := sms.Decode([]*tpdu.TPDU{t})
	return []string{fmt.Sprintf(`%s"%s","%s",,"%s"`, prefix, textStat[msg.stat], t.OA.Number(), textTime(t.SCTS)), string(text)}
}

func (m *Modem) cmgd(c command) result {
	if c.form == formTest {
		return result{info: []string{fmt.Sprintf("+CMGD: (1-%d),(0-4)", m.st.store.cap)}}
	}
	if m.st.locked {
		return m.cms(311)
	}
	idx, ok := c.intArg(0)
	flag, _ := c.intArg(1)
	if flag == 0 {
		if !ok || idx < 1 || idx > m.st.store.cap {
			return m.cms(321)
		}
		delete(m.st.store.msgs, idx)
		return result{}
	}
	for i, msg := range m.st.store.msgs {
		if flag == 4 || msg.stat == statRead {
			delete(m.st.store.msgs, i)
		}
	}
	return result{}
}
