package modem

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/warthog618/modem/at"
	"github.com/warthog618/modem/gsm"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
	"go.bug.st/serial"
)

// openSerial opens a device at baud, 8N1, no flow control.
func openSerial(path string, baud int) (io.ReadWriteCloser, error) {
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("open port %s: %w", path, err)
	}
	return p, nil
}

// urc is an unsolicited result code with its trailing PDU line, if any.
type urc struct {
	lines []string
}

// The unsolicited result codes the plugin asks for with +CNMI.
const (
	urcStored       = "+CMTI:" // a message stored: +CMTI: "SM",3
	urcDelivered    = "+CMT:"  // a message routed directly: +CMT: ,24 + PDU line
	urcReport       = "+CDS:"  // a status report routed directly: +CDS: 25 + PDU line
	urcReportStored = "+CDSI:" // a status report stored: +CDSI: "SM",4
)

// conn is one open session with a modem: the AT engine on the port and the
// unsolicited lines it routes aside.
type conn struct {
	path    string
	rw      io.ReadWriteCloser
	at      *at.AT
	gsm     *gsm.GSM
	urcs    chan urc
	done    chan struct{} // closed when the session ends
	once    sync.Once
	timeout time.Duration
}

func newConn(path string, rw io.ReadWriteCloser, smsc string, timeout time.Duration) *conn {
	c := &conn{path: path, rw: rw, urcs: make(chan urc, 256), done: make(chan struct{}), timeout: timeout}
	route := func(lines []string) {
		// The AT engine runs each handler on a goroutine of its own; it
		// ends here, when the session loop takes the line or ends.
		select {
		case c.urcs <- urc{lines: lines}:
		case <-c.done:
		}
	}
	c.at = at.New(rw,
		at.WithTimeout(timeout),
		at.WithIndication(urcStored, route),
		at.WithIndication(urcDelivered, route, at.WithTrailingLine),
		at.WithIndication(urcReport, route, at.WithTrailingLine),
		at.WithIndication(urcReportStored, route),
	)
	var opts []gsm.Option
	if smsc != "" {
		sca := pdumode.SMSCAddress{}
		sca.SetNumber(smsc)
		opts = append(opts, gsm.WithSCA(sca))
	}
	c.gsm = gsm.New(c.at, opts...)
	return c
}

// close ends the session: the port closes, which ends the AT engine's
// reader and with it every goroutine it started.
func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.rw.Close()
		<-c.at.Closed()
	})
}

// cmd runs one command and returns its information lines, dropping any
// unsolicited line the engine let through between them.
func (c *conn) cmd(command string) ([]string, error) {
	info, err := c.at.Command(command)
	if err != nil {
		return nil, commandError(c.path, command, err)
	}
	return info, nil
}

// value returns the text after "+NAME:" in the first line that has it.
func value(info []string, name string) (string, bool) {
	for _, l := range info {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// plain returns the first line that is not an unsolicited code or a "+X:"
// answer: the bare answer of +CGSN, +CIMI.
func plain(info []string) string {
	for _, l := range info {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "+") {
			return l
		}
	}
	return ""
}

// fields splits a comma-separated answer, unquoting each field.
func fields(v string) []string {
	parts := strings.Split(v, ",")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"`)
	}
	return parts
}

// pinState is the SIM's answer to +CPIN?.
type pinState string

const (
	pinReady pinState = "READY"
	pinSIM   pinState = "SIM PIN"
	pinPUK   pinState = "SIM PUK"
)

// errPINRefused is a SIM refusing the configured PIN. The port is never
// tried again with it: three wrong PINs lock the SIM.
var errPINRefused = errors.New("the SIM refused the configured PIN; not tried again, since three wrong PINs lock the SIM: fix the pin setting and restart")

// errNeedsPerson is a SIM state no retry fixes (PUK, no PIN configured).
var errNeedsPerson = errors.New("the SIM needs a person")

// init runs the start-up sequence. A PIN the SIM refuses returns an error
// wrapping errPINRefused; a command the modem refuses, one naming the
// command.
func (c *conn) init(pin string, statusReports bool) error {
	// ESC cancels a ">" prompt a crashed run left open; never Ctrl-Z, which
	// would send the half-written message. Then reset and echo off.
	if err := c.at.Init(at.WithCmds("Z", "E0")); err != nil {
		return fmt.Errorf("port %s: %w", c.path, err)
	}
	for _, cmd := range []string{"+CMEE=1", "+CMGF=0"} {
		if _, err := c.cmd(cmd); err != nil {
			return err
		}
	}
	if err := c.unlock(pin); err != nil {
		return err
	}
	ds := 0
	if statusReports {
		ds = 1
	}
	// mt=1: inbound messages are stored and announced (+CMTI), so one that
	// arrives while the plugin is down waits on the SIM; ds=1: status
	// reports come directly (+CDS).
	for _, cmd := range []string{`+CPMS="SM","SM","SM"`, fmt.Sprintf("+CNMI=2,1,0,%d,0", ds)} {
		if _, err := c.cmd(cmd); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) unlock(pin string) error {
	info, err := c.cmd("+CPIN?")
	if err != nil {
		return err
	}
	state, _ := value(info, "+CPIN")
	switch pinState(state) {
	case pinReady:
		return nil
	case pinSIM:
		if pin == "" {
			return fmt.Errorf("port %s: the SIM asks for a PIN and none is configured (pin): %w", c.path, errNeedsPerson)
		}
		if _, err := c.at.Command(`+CPIN="` + pin + `"`); err != nil {
			// The command is not quoted back: it holds the PIN.
			return fmt.Errorf("port %s: AT+CPIN=<pin> answered %v: %w", c.path, err, errPINRefused)
		}
		return nil
	case pinPUK:
		return fmt.Errorf("port %s: the SIM is locked and asks for its PUK (+CPIN: SIM PUK); unlock it in a phone: %w", c.path, errNeedsPerson)
	}
	return fmt.Errorf("port %s: the SIM is not ready (+CPIN: %s)", c.path, state)
}

// identity reads what the port shows operators; a modem that does not
// answer one of them leaves it empty.
func (c *conn) identity() (imei, imsi, number string) {
	if info, err := c.cmd("+CGSN"); err == nil {
		imei = plain(info)
	}
	if info, err := c.cmd("+CIMI"); err == nil {
		imsi = plain(info)
	}
	if info, err := c.cmd("+CNUM"); err == nil {
		if v, ok := value(info, "+CNUM"); ok {
			if f := fields(v); len(f) >= 2 {
				number = f[1]
			}
		}
	}
	return imei, imsi, number
}

// network is what the periodic health poll learns.
type network struct {
	rssi         int // 0..31, 99 unknown
	registration regState
	operator     string
}

// regState is a +CREG/+CEREG <stat>.
type regState int

const (
	regNotSearching regState = 0
	regHome         regState = 1
	regSearching    regState = 2
	regDenied       regState = 3
	regUnknown      regState = 4
	regRoaming      regState = 5
)

func (r regState) registered() bool { return r == regHome || r == regRoaming }

func (r regState) String() string {
	switch r {
	case regNotSearching:
		return "not registered"
	case regHome:
		return "registered (home)"
	case regSearching:
		return "searching"
	case regDenied:
		return "registration denied"
	case regRoaming:
		return "registered (roaming)"
	}
	return "registration unknown"
}

// poll asks signal, registration and operator. Only a timeout or the port
// going away is an error: a modem that answers ERROR to +CEREG simply has
// no LTE.
func (c *conn) poll() (network, error) {
	n := network{rssi: 99, registration: regUnknown}
	info, err := c.at.Command("+CSQ")
	if err != nil && isLinkFailure(err) {
		return n, commandError(c.path, "+CSQ", err)
	}
	if v, ok := value(info, "+CSQ"); ok {
		if rssi, err := strconv.Atoi(fields(v)[0]); err == nil {
			n.rssi = rssi
		}
	}
	for _, cmd := range []string{"+CREG", "+CEREG"} {
		info, err := c.at.Command(cmd + "?")
		if err != nil {
			if isLinkFailure(err) {
				return n, commandError(c.path, cmd+"?", err)
			}
			continue
		}
		if st, ok := registration(info, cmd); ok && (st.registered() || n.registration == regUnknown) {
			n.registration = st
		}
	}
	if info, err := c.at.Command("+COPS?"); err == nil {
		if v, ok := value(info, "+COPS"); ok {
			if f := fields(v); len(f) >= 3 {
				n.operator = f[2]
			}
		}
	} else if isLinkFailure(err) {
		return n, commandError(c.path, "+COPS?", err)
	}
	return n, nil
}

// registration reads <stat> from "+CREG: <n>,<stat>[,…]".
func registration(info []string, name string) (regState, bool) {
	v, ok := value(info, name)
	if !ok {
		return regUnknown, false
	}
	f := fields(v)
	if len(f) < 2 {
		return regUnknown, false
	}
	st, err := strconv.Atoi(f[1])
	if err != nil {
		return regUnknown, false
	}
	return regState(st), true
}

func isLinkFailure(err error) bool {
	return errors.Is(err, at.ErrDeadlineExceeded) || errors.Is(err, at.ErrClosed)
}

// dBm is the signal strength +CSQ's rssi stands for, or false when unknown.
func dBm(rssi int) (int, bool) {
	if rssi < 0 || rssi > 31 {
		return 0, false
	}
	return -113 + 2*rssi, true
}

// submit sends one SMS-SUBMIT TPDU and returns the message reference the
// modem gave it.
func (c *conn) submit(tp []byte, timeout time.Duration) (int, error) {
	rsp, err := c.gsm.SendPDU(tp, at.WithTimeout(timeout))
	if err != nil {
		return 0, err
	}
	mr, err := strconv.Atoi(fields(rsp)[0])
	if err != nil {
		return 0, fmt.Errorf("port %s: +CMGS answered %q, not a message reference", c.path, rsp)
	}
	return mr, nil
}

// stored is a message read from the SIM's storage.
type stored struct {
	index int
	tpdu  tpdu.TPDU
}

// read reads the message at a storage index (+CMGR).
func (c *conn) read(index int) (tpdu.TPDU, error) {
	info, err := c.cmd(fmt.Sprintf("+CMGR=%d", index))
	if err != nil {
		return tpdu.TPDU{}, err
	}
	for i, l := range info {
		if !strings.HasPrefix(l, "+CMGR:") {
			continue
		}
		if pdu, ok := nextPDU(info[i+1:]); ok {
			// "+CMGR: <stat>,[<alpha>],<length>"
			return decodePDU(l, pdu)
		}
	}
	return tpdu.TPDU{}, fmt.Errorf("port %s: AT+CMGR=%d: no PDU in the answer", c.path, index)
}

// list reads every stored message (+CMGL=4), for those that arrived while
// no one was listening.
func (c *conn) list() ([]stored, []error) {
	info, err := c.cmd("+CMGL=4")
	if err != nil {
		return nil, []error{err}
	}
	var out []stored
	var errs []error
	for i, l := range info {
		v, ok := strings.CutPrefix(l, "+CMGL:")
		if !ok {
			continue
		}
		index, err := strconv.Atoi(fields(v)[0])
		pdu, found := nextPDU(info[i+1:])
		if err != nil || !found {
			errs = append(errs, fmt.Errorf("port %s: AT+CMGL=4: unreadable entry %q", c.path, l))
			continue
		}
		tp, err := decodePDU(l, pdu)
		if err != nil {
			errs = append(errs, fmt.Errorf("port %s: stored message %d: %w", c.path, index, err))
			continue
		}
		out = append(out, stored{index: index, tpdu: tp})
	}
	return out, errs
}

// nextPDU is the first line of hex digits in lines, skipping unsolicited
// lines interleaved with the answer.
func nextPDU(lines []string) (string, bool) {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "+") {
			continue
		}
		if isHex(l) {
			return l, true
		}
	}
	return "", false
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return len(s)%2 == 0
}

// remove deletes a stored message (+CMGD).
func (c *conn) remove(index int) error {
	_, err := c.cmd(fmt.Sprintf("+CMGD=%d", index))
	return err
}

// storageIndex reads the index from "+CMTI: "SM",3".
func storageIndex(line string) (int, bool) {
	_, v, ok := strings.Cut(line, ":")
	if !ok {
		return 0, false
	}
	f := fields(v)
	i, err := strconv.Atoi(f[len(f)-1])
	return i, err == nil
}

// decodePDU decodes a PDU-mode frame (SMSC address and TPDU, in hex) after
// its header line ("+CMT: ,24", "+CDS: 25", "+CMGR: 0,,24"), whose last
// field is the TPDU's length in octets.
func decodePDU(header, hexPDU string) (tpdu.TPDU, error) {
	_, v, _ := strings.Cut(header, ":")
	f := fields(v)
	want, err := strconv.Atoi(f[len(f)-1])
	if err != nil {
		return tpdu.TPDU{}, fmt.Errorf("header %q has no PDU length", header)
	}
	pdu, err := pdumode.UnmarshalHexString(hexPDU)
	if err != nil {
		return tpdu.TPDU{}, fmt.Errorf("PDU after %q: %w", header, err)
	}
	if len(pdu.TPDU) != want {
		return tpdu.TPDU{}, fmt.Errorf("PDU after %q is %d octets, the header says %d", header, len(pdu.TPDU), want)
	}
	var tp tpdu.TPDU
	if err := tp.UnmarshalBinary(pdu.TPDU); err != nil {
		return tpdu.TPDU{}, fmt.Errorf("PDU after %q: %w", header, err)
	}
	return tp, nil
}
