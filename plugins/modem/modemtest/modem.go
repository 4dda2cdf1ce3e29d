package modemtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/tpdu"
	"golang.org/x/sys/unix"
)

// Options describe the simulated modem and its SIM. Zero values give a
// registered, unlocked modem with plausible identities.
type Options struct {
	// Path is the stable path clients open (a symlink to the current pty,
	// like /dev/serial/by-id/...); default: "modem" in a t.TempDir().
	Path string

	Manufacturer string // +CGMI; default "smsrouter"
	Model        string // +CGMM; default "modemtest"
	Revision     string // +CGMR; default "1.0"
	IMEI         string // +CGSN; default "356938035643809"
	IMSI         string // +CIMI; default "242016000000001"
	OwnNumber    string // +CNUM; empty answers no number
	Operator     string // +COPS long name; default "Telenor"
	OperatorCode string // +COPS numeric; default "24201"
	SMSC         string // +CSCA; default "+4790002100"

	// PIN, when set, locks the SIM until AT+CPIN="<PIN>" (after each
	// power cycle, as a real SIM).
	PIN string
	// Signal is the +CSQ rssi (0-31, 99 unknown); default 20.
	Signal int
	// Registration is the +CREG stat: 1 home (default), 5 roaming,
	// 0/2 searching, 3 denied. Sending needs 1 or 5.
	Registration int
	// Storage is how many messages the SIM holds; default 30.
	Storage int
	// Latency delays every answer (and the +CMGS result).
	Latency time.Duration
	// ReportDelay is how long after +CMGS a requested status report comes.
	ReportDelay time.Duration
	// ReportStatus decides each requested status report: the TP-Status and
	// whether to send one at all. Default: 0x00 (delivered), always.
	ReportStatus func(Submitted) (status byte, send bool)
	// FirstMR is the first message reference +CMGS answers.
	FirstMR int
}

func (o *Options) defaults(t testing.TB) {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	if o.Path == "" {
		o.Path = filepath.Join(t.TempDir(), "modem")
	}
	def(&o.Manufacturer, "smsrouter")
	def(&o.Model, "modemtest")
	def(&o.Revision, "1.0")
	def(&o.IMEI, "356938035643809")
	def(&o.IMSI, "242016000000001")
	def(&o.Operator, "Telenor")
	def(&o.OperatorCode, "24201")
	def(&o.SMSC, "+4790002100")
	if o.Signal == 0 {
		o.Signal = 20
	}
	if o.Registration == 0 {
		o.Registration = 1
	}
	if o.Storage == 0 {
		o.Storage = 30
	}
	if o.ReportStatus == nil {
		o.ReportStatus = func(Submitted) (byte, bool) { return 0x00, true }
	}
}

// Submitted is one SMS-SUBMIT the modem accepted (one part of a
// concatenated message each).
type Submitted struct {
	MR           int    // the reference +CMGS answered
	To           string // destination, "+" first when international
	Text         string // this part's text
	StatusReport bool   // the submitter asked for a status report
	// ConcatRef, ConcatSeq, ConcatTotal describe a part of a concatenated
	// message; ConcatTotal is 0 for a single message.
	ConcatRef, ConcatSeq, ConcatTotal int
	TPDU                              tpdu.TPDU
	At                                time.Time
}

// Inbound is a mobile-originated message to inject.
type Inbound struct {
	From string
	Text string
	// Reverse delivers the parts of a concatenated message last first.
	Reverse bool
	// Parts, when set, delivers only these parts (1-based), to simulate
	// a part that never arrives.
	Parts []int
}

// Modem is one simulated modem. All methods are safe for concurrent use.
type Modem struct {
	t    testing.TB
	opts Options
	sent chan Submitted
	enc  *sms.Encoder

	mu       sync.Mutex
	plug     *plug // nil while unplugged
	pending  *pendingSend
	st       state
	latency  time.Duration
	slow     map[string]time.Duration // extra latency per command name
	failures map[string][]string
	extra    []string // lines for the next answer
	commands []string
	newCmd   chan struct{} // closed and replaced when a command arrives
	timers   map[*time.Timer]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// New starts a simulated modem behind opts.Path and stops it when the test
// ends.
func New(t testing.TB, opts Options) *Modem {
	t.Helper()
	opts.defaults(t)
	m := &Modem{
		t:        t,
		opts:     opts,
		sent:     make(chan Submitted, 4096),
		enc:      sms.NewEncoder(sms.AsDeliver),
		latency:  opts.Latency,
		slow:     map[string]time.Duration{},
		failures: map[string][]string{},
		timers:   map[*time.Timer]struct{}{},
		newCmd:   make(chan struct{}),
	}
	m.st = newState(&m.opts)
	if err := m.Replug(); err != nil {
		t.Fatalf("modemtest: %v", err)
	}
	t.Cleanup(m.close)
	return m
}

// Path is the stable path clients open; it exists while the modem is
// plugged in.
func (m *Modem) Path() string { return m.opts.Path }

// Sent delivers every SMS-SUBMIT the modem accepted, in order.
func (m *Modem) Sent() <-chan Submitted { return m.sent }

// SetLatency changes how long every answer takes from now on.
func (m *Modem) SetLatency(d time.Duration) {
	m.mu.Lock()
	m.latency = d
	m.mu.Unlock()
}

// SetCommandLatency makes answers to one command (such as "+CMGS", whose
// result then comes d after the PDU, like a slow network) take d longer
// than the others; 0 removes it.
func (m *Modem) SetCommandLatency(cmd string, d time.Duration) {
	m.mu.Lock()
	m.slow[cmd] = d
	m.mu.Unlock()
}

// SetRegistration changes the +CREG/+CEREG stat (1 home, 5 roaming,
// 0/2 searching, 3 denied) and announces it as +CREG when asked to.
func (m *Modem) SetRegistration(stat int) {
	m.mu.Lock()
	m.st.reg = stat
	urc := ""
	if m.st.cregN > 0 {
		urc = fmt.Sprintf("+CREG: %d", stat)
	}
	m.mu.Unlock()
	if urc != "" {
		m.Unsolicited(urc)
	}
}

// SetSignal changes the +CSQ rssi.
func (m *Modem) SetSignal(rssi int) {
	m.mu.Lock()
	m.st.rssi = rssi
	m.mu.Unlock()
}

// FailNext makes the next use of cmd (an extended command name such as
// "+CMGS" or "+CMGF", or "E"/"Z" for basic ones) end with final (e.g.
// "+CMS ERROR: 331" or "ERROR") instead of its normal result. Calls queue.
// For +CMGS the failure comes after the PDU, like a network refusal.
func (m *Modem) FailNext(cmd, final string) {
	m.mu.Lock()
	m.failures[cmd] = append(m.failures[cmd], final)
	m.mu.Unlock()
}

// Interleave puts lines (unsolicited codes or garbage) into the next answer,
// after its information lines and before its final result.
func (m *Modem) Interleave(lines ...string) {
	m.mu.Lock()
	m.extra = append(m.extra, lines...)
	m.mu.Unlock()
}

// Unsolicited writes line now, framed as an unsolicited result code.
// It is dropped while unplugged.
func (m *Modem) Unsolicited(line string) {
	m.mu.Lock()
	p := m.plug
	m.mu.Unlock()
	if p != nil {
		p.write("\r\n" + line + "\r\n")
	}
}

// Commands returns every command the modem received, in order, one entry
// per command ("+CPIN=\"1234\"", "E0", ...), across replugs.
func (m *Modem) Commands() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.commands...)
}

// WaitCommand waits until a command starting with prefix (such as "+CMGS=")
// has arrived at or after position from of Commands, and returns its
// position.
func (m *Modem) WaitCommand(ctx context.Context, prefix string, from int) (int, error) {
	for {
		m.mu.Lock()
		for i := from; i < len(m.commands); i++ {
			if strings.HasPrefix(m.commands[i], prefix) {
				m.mu.Unlock()
				return i, nil
			}
		}
		changed := m.newCmd
		m.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, fmt.Errorf("modemtest: waiting for %s at %s: %w", prefix, m.opts.Path, ctx.Err())
		}
	}
}

// Stored returns how many messages the SIM holds.
func (m *Modem) Stored() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.store.used()
}

// Unplug closes the pty and removes the stable path, like a USB modem
// pulled out: the client's reads and writes fail. Settings are lost; the
// SIM's messages stay.
func (m *Modem) Unplug() {
	m.mu.Lock()
	p := m.plug
	m.plug = nil
	m.mu.Unlock()
	if p == nil {
		return
	}
	_ = os.Remove(m.opts.Path)
	p.close()
}

// Replug plugs the modem back in: a fresh pty behind the same stable path,
// in power-on state (echo on, SIM locked again when it has a PIN).
func (m *Modem) Replug() error {
	m.mu.Lock()
	if m.plug != nil || m.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	p, err := openPlug()
	if err != nil {
		return err
	}
	if err := relink(p.tty.Name(), m.opts.Path); err != nil {
		p.close()
		return err
	}
	m.mu.Lock()
	m.st.powerOn()
	m.plug = p
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.serve(p)
	}()
	return nil
}

func (m *Modem) close() {
	m.mu.Lock()
	m.closed = true
	for tm := range m.timers {
		if tm.Stop() {
			m.wg.Done()
		}
	}
	m.mu.Unlock()
	m.Unplug()
	m.wg.Wait()
}

// relink points path at target atomically, so a client never sees it
// missing while the modem is plugged in.
func relink(target, path string) error {
	tmp := path + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s to %s: %w", path, target, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("link %s to %s: %w", path, target, err)
	}
	return nil
}

// plug is one pty pair: the modem reads and writes the controlling side,
// the client opens the terminal side by name.
type plug struct {
	ptmx, tty *os.File
	done      chan struct{}
	once      sync.Once
	wmu       sync.Mutex
}

func openPlug() (*plug, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	if ptmx, err = pollable(ptmx); err != nil {
		tty.Close()
		return nil, err
	}
	// Raw mode, so a client that does not configure the port (os.OpenFile)
	// gets bytes as a serial port gives them: no echo by the line
	// discipline, no CR to LF translation.
	if err := makeRaw(tty); err != nil {
		ptmx.Close()
		tty.Close()
		return nil, err
	}
	return &plug{ptmx: ptmx, tty: tty, done: make(chan struct{})}, nil
}

// pollable returns f as a non-blocking file in Go's poller. pty.Open
// leaves it blocking (it calls Fd), and closing a blocking file waits for
// the read in progress: the pty would never hang up on Unplug.
func pollable(f *os.File) (*os.File, error) {
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("duplicate %s: %w", f.Name(), err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make %s non-blocking: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("read terminal settings of %s: %w", f.Name(), err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN] = 1
	tio.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tio); err != nil {
		return fmt.Errorf("set raw mode on %s: %w", f.Name(), err)
	}
	return nil
}

func (p *plug) write(s string) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	select {
	case <-p.done:
		return
	default:
	}
	_, _ = p.ptmx.Write([]byte(s))
}

func (p *plug) close() {
	p.once.Do(func() {
		close(p.done)
		p.ptmx.Close()
		p.tty.Close()
	})
}

// wait sleeps d unless the plug goes away first; false means it went away.
func (p *plug) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-p.done:
		return false
	}
}

// serve reads the client's bytes until the plug closes.
func (m *Modem) serve(p *plug) {
	buf := make([]byte, 4096)
	in := &input{}
	for {
		n, err := p.ptmx.Read(buf)
		for _, b := range buf[:n] {
			if u, ok := in.feed(b); ok {
				m.handle(p, in, u)
			}
		}
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				select {
				case <-p.done:
				default:
					// EIO while no client holds the terminal side cannot
					// happen (we hold it); anything else ends the plug.
					m.t.Logf("modemtest: read %s: %v", p.tty.Name(), err)
				}
			}
			return
		}
	}
}

// afterFunc runs f after d unless the modem is closed first.
func (m *Modem) afterFunc(d time.Duration, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	var tm *time.Timer
	tm = time.AfterFunc(d, func() {
		defer m.wg.Done()
		m.mu.Lock()
		delete(m.timers, tm)
		closed := m.closed
		m.mu.Unlock()
		if !closed {
			f()
		}
	})
	m.timers[tm] = struct{}{}
}
