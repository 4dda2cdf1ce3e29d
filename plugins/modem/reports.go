package modem

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/warthog618/sms/encoding/tpdu"

	"github.com/smsrouter/smsrouter/sdk"
)

// reportKey finds the part a status report is about: the port, the TP-MR
// the modem gave the part (0..255, so it wraps) and the recipient.
type reportKey struct {
	port      string
	mr        int
	recipient string
}

// sentMessage is an accepted message waiting for the reports of its parts.
type sentMessage struct {
	id    string
	port  string
	to    string // digits
	at    time.Time
	parts []partReport // by part, in order
	open  int          // parts without a final report
	keys  int          // parts byKey still finds
	done  time.Time    // the network's time of the last part's final report
}

type partReport struct {
	key    reportKey
	final  bool
	status sdk.Status
	word   string
	code   byte
}

// reportBook matches status reports to messages. An entry lives for the
// report window; a newer part with the same key replaces an older one,
// since the modem reuses references.
type reportBook struct {
	window time.Duration
	mu     sync.Mutex
	byKey  map[reportKey]*sentMessage
	byID   map[string]*sentMessage
	// unstored are messages whose every part has its final report and
	// whose event the host has not stored yet: the journal keeps them
	// until it has (ended), so a crash in between emits them again.
	unstored map[string]*sentMessage
	journal  *reportJournal // nil without a state_file
	logErr   func(msg string, err error)
}

func newReportBook(window time.Duration) *reportBook {
	return &reportBook{window: window, byKey: map[reportKey]*sentMessage{}, byID: map[string]*sentMessage{},
		unstored: map[string]*sentMessage{}, logErr: func(string, error) {}}
}

// restore puts back the messages a journal kept, oldest first, and
// returns the events of those whose final report came before the restart
// but was not stored by the host: they are to be emitted again.
func (b *reportBook) restore(j *reportJournal, live []journalEntry) []sdk.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.journal = j
	var again []sdk.Event
	for _, e := range live {
		m := &sentMessage{id: e.ID, port: e.Port, to: e.To, at: time.Unix(e.At, 0), parts: make([]partReport, len(e.Parts))}
		for i, jp := range e.Parts {
			m.parts[i].key = reportKey{port: e.Port, mr: jp.MR, recipient: e.To}
			if jp.ST >= 0 {
				st := byte(jp.ST)
				status, word, _ := tpStatus(st)
				m.parts[i] = partReport{key: m.parts[i].key, final: true, status: status, word: word, code: st}
			} else {
				m.open++
			}
		}
		if m.open > 0 {
			b.track(m)
			continue
		}
		if e.Done != 0 {
			m.done = time.UnixMilli(e.Done)
		}
		b.unstored[m.id] = m
		again = append(again, m.outcome(m.done))
	}
	return again
}

// track makes m's open parts findable, replacing older messages' parts
// with the same keys.
func (b *reportBook) track(m *sentMessage) {
	for _, pr := range m.parts {
		if pr.final {
			continue
		}
		if old := b.byKey[pr.key]; old != nil && old != m {
			b.untrack(old, pr.key)
		}
		b.byKey[pr.key] = m
		m.keys++
	}
	b.byID[m.id] = m
}

// untrack forgets one key of m, and m once none is left.
func (b *reportBook) untrack(m *sentMessage, k reportKey) {
	if b.byKey[k] == m {
		delete(b.byKey, k)
	}
	m.keys--
	if m.keys <= 0 {
		delete(b.byID, m.id)
	}
}

// entry is m as the journal keeps it.
func (m *sentMessage) entry() journalEntry {
	e := journalEntry{ID: m.id, Port: m.port, To: m.to, At: m.at.Unix(), Parts: make([]journalPart, len(m.parts))}
	if !m.done.IsZero() {
		e.Done = m.done.UnixMilli()
	}
	for i, pr := range m.parts {
		e.Parts[i] = journalPart{MR: pr.key.mr, ST: -1}
		if pr.final {
			e.Parts[i].ST = int(pr.code)
		}
	}
	return e
}

// record writes e to the journal, if there is one; a failure is logged,
// since the message went out and only its later report is at stake.
func (b *reportBook) record(e journalEntry) {
	if b.journal == nil {
		return
	}
	live := func() []journalEntry {
		out := make([]journalEntry, 0, len(b.byID)+len(b.unstored))
		for _, ms := range []map[string]*sentMessage{b.byID, b.unstored} {
			for _, m := range ms {
				out = append(out, m.entry())
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].At < out[j].At })
		return out
	}
	if err := b.journal.write(e, live, len(b.byID)+len(b.unstored)); err != nil {
		b.logErr("status reports after a restart may not be matched", err)
	}
}

func (b *reportBook) close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.journal.close()
}

// digits keeps the digits of a number, so "+4790…" and "4790…" match.
func digits(n string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, n)
}

func (b *reportBook) add(id, port, to string, mrs []int) {
	m := &sentMessage{id: id, port: port, to: digits(to), at: time.Now(), parts: make([]partReport, len(mrs)), open: len(mrs)}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune(m.at)
	for i, mr := range mrs {
		m.parts[i].key = reportKey{port: port, mr: mr, recipient: m.to}
	}
	b.track(m)
	b.record(m.entry())
}

func (b *reportBook) prune(now time.Time) {
	for k, m := range b.byKey {
		if now.Sub(m.at) > b.window {
			delete(b.byKey, k)
		}
	}
	for id, m := range b.byID {
		if now.Sub(m.at) > b.window {
			delete(b.byID, id)
		}
	}
}

// tpStatus maps TP-Status (23.040 §9.2.3.15) to a normalised status; final
// is false while the SMSC is still trying.
func tpStatus(st byte) (status sdk.Status, word string, final bool) {
	switch {
	case st <= 0x02:
		return sdk.StatusDelivered, "delivered", true
	case st >= 0x20 && st <= 0x2F:
		return sdk.StatusSent, "SC still trying", false
	case st == 0x46:
		return sdk.StatusExpired, "validity period expired", true
	case st == 0x41 || st == 0x43 || st == 0x44:
		return sdk.StatusUndeliverable, "not obtainable", true
	case st == 0x42 || st == 0x45:
		return sdk.StatusRejected, "rejected by the network", true
	case st >= 0x40 && st <= 0x4F:
		return sdk.StatusUndeliverable, "permanent error", true
	case st >= 0x60 && st <= 0x6F:
		return sdk.StatusUndeliverable, "SC stopped trying", true
	}
	return sdk.StatusUnknown, "unknown status", true
}

// report applies one SMS-STATUS-REPORT. It returns the event to emit when
// the last part of its message got a final report, with the message's
// overall status: delivered when every part was, else the first part's
// that was not. The journal then keeps the message with every part's
// report until ended is called for it, once the host stored the event.
func (b *reportBook) report(port string, tp tpdu.TPDU) (sdk.Event, bool) {
	k := reportKey{port: port, mr: int(tp.MR), recipient: digits(tp.RA.Number())}
	status, word, final := tpStatus(tp.ST)
	b.mu.Lock()
	defer b.mu.Unlock()
	m, ok := b.byKey[k]
	if !ok || !final {
		return sdk.Event{}, false
	}
	for i := range m.parts {
		pr := &m.parts[i]
		if pr.key == k && !pr.final {
			*pr = partReport{key: k, final: true, status: status, word: word, code: tp.ST}
			m.open--
			b.untrack(m, k)
		}
	}
	if m.open == 0 {
		m.done = tp.DT.Time
	}
	b.record(m.entry())
	if m.open > 0 {
		return sdk.Event{}, false
	}
	b.unstored[m.id] = m
	return m.outcome(tp.DT.Time), true
}

// ended records that the host stored the event of message id: its
// journal entry ends, and a restart no longer emits it.
func (b *reportBook) ended(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.unstored[id]; !ok {
		return
	}
	delete(b.unstored, id)
	b.record(journalEntry{ID: id, End: true})
}

// outcome is the event of a message whose every part has its final
// report; at is the network's time of the last report (zero: unknown).
func (m *sentMessage) outcome(at time.Time) sdk.Event {
	overall := m.parts[0]
	for _, pr := range m.parts {
		if pr.status != sdk.StatusDelivered {
			overall = pr
			break
		}
	}
	ev := &sdk.StatusEvent{
		ProviderMessageID: m.id,
		Status:            overall.status,
		ProviderStatus:    overall.word,
		ErrorCode:         fmt.Sprintf("TP-ST %02X", overall.code),
		// No Recipient: the ids are random, never reused, so the host
		// needs none, and a report's number may lack the "+".
		At: at,
	}
	if overall.status == sdk.StatusDelivered {
		ev.ErrorCode = ""
	}
	return sdk.Event{ID: m.id + ":" + string(overall.status), Status: ev}
}
