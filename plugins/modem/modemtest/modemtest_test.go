package modemtest_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/modem/at"
	"github.com/warthog618/modem/gsm"
	"github.com/warthog618/sms"
	"github.com/warthog618/sms/encoding/pdumode"
	"github.com/warthog618/sms/encoding/tpdu"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every await in these tests.
const wait = 10 * time.Second

// dial opens the modem's path the way a client opens a serial port and
// wraps it in warthog618/modem's AT engine, initialised in PDU mode.
func dial(t *testing.T, m *modemtest.Modem) (*gsm.GSM, *os.File) {
	t.Helper()
	f, err := os.OpenFile(m.Path(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", m.Path(), err)
	}
	t.Cleanup(func() { f.Close() })
	g := gsm.New(at.New(f, at.WithTimeout(wait)), gsm.WithPDUMode)
	if err := g.Init(); err != nil {
		t.Fatalf("init: %v", err)
	}
	return g, f
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatalf("nothing arrived within %v", wait)
	}
	var zero T
	return zero
}

func TestIdentityAndNetwork(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{IMEI: "490154203237518", IMSI: "242019999999999", OwnNumber: "+4791234567"})
	g, _ := dial(t, m)
	tests := []struct{ cmd, want string }{
		{"+CGMI", "smsrouter"},
		{"+CGMM", "modemtest"},
		{"+CGMR", "1.0"},
		{"+CGSN", "490154203237518"},
		{"+CIMI", "242019999999999"},
		{"+CPIN?", "+CPIN: READY"},
		{"+CSQ", "+CSQ: 20,99"},
		{"+CREG?", "+CREG: 0,1"},
		{"+CEREG?", "+CEREG: 0,1"},
		{"+COPS?", `+COPS: 0,0,"Telenor",7`},
		{"+COPS=3,2;+COPS?", `+COPS: 0,2,"24201",7`},
		{"+CSCA?", `+CSCA: "+4790002100",145`},
		{"+CNUM", `+CNUM: "","+4791234567",145`},
		{`+CPMS="SM","SM","SM"`, "+CPMS: 0,30,0,30,0,30"},
		{"+CMGF?", "+CMGF: 0"},
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			info, err := g.Command(tc.cmd)
			if err != nil {
				t.Fatalf("AT%s: %v", tc.cmd, err)
			}
			if len(info) != 1 || info[0] != tc.want {
				t.Fatalf("AT%s answered %q, want %q", tc.cmd, info, tc.want)
			}
		})
	}
	if _, err := g.Command("+NOSUCH"); !errors.Is(err, at.ErrError) {
		t.Fatalf("unknown command answered %v, want ERROR", err)
	}
}

func TestSendLongMessageInParts(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{FirstMR: 254})
	g, _ := dial(t, m)
	text := strings.Repeat("0123456789", 20) // two GSM-7 parts
	mrs, err := g.SendLongMessage("+4799887766", text)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if strings.Join(mrs, ",") != "254,255" {
		t.Fatalf("+CMGS references %v, want 254,255", mrs)
	}
	var got string
	for i := 1; i <= 2; i++ {
		s := receive(t, m.Sent())
		if s.To != "+4799887766" || s.ConcatTotal != 2 || s.ConcatSeq != i {
			t.Fatalf("part %d: %+v", i, s)
		}
		got += s.Text
	}
	if got != text {
		t.Fatalf("parts carry %q, want %q", got, text)
	}
	if mr, err := g.SendShortMessage("+4799887766", "wraps"); err != nil || mr != "0" {
		t.Fatalf("third send: mr %q err %v, want mr 0 (wrapped)", mr, err)
	}
}

func submitPDU(t *testing.T, to, text string, report bool) []byte {
	t.Helper()
	pdus, err := sms.Encode([]byte(text), sms.To(to))
	if err != nil {
		t.Fatal(err)
	}
	if report {
		pdus[0].FirstOctet |= tpdu.FoSRR
	}
	b, err := pdus[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStatusReports(t *testing.T) {
	tests := []struct {
		name   string
		cnmi   string
		urc    string
		lines  int
		status byte
	}{
		{"direct +CDS", "+CNMI=2,1,0,1,0", "+CDS:", 1, 0x00},
		{"stored +CDSI", "+CNMI=2,1,0,2,0", "+CDSI:", 0, 0x46},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := modemtest.New(t, modemtest.Options{
				ReportDelay:  10 * time.Millisecond,
				ReportStatus: func(modemtest.Submitted) (byte, bool) { return tc.status, true },
			})
			g, _ := dial(t, m)
			urcs := make(chan []string, 1)
			if err := g.AddIndication(tc.urc, func(l []string) { urcs <- l }, at.WithTrailingLines(tc.lines)); err != nil {
				t.Fatal(err)
			}
			if _, err := g.Command(tc.cnmi); err != nil {
				t.Fatal(err)
			}
			mr, err := g.SendPDU(submitPDU(t, "+4799887766", "report me", true))
			if err != nil {
				t.Fatal(err)
			}
			lines := receive(t, urcs)
			pduLine := lines[len(lines)-1]
			if tc.urc == "+CDSI:" {
				info, err := g.Command("+CMGR=" + strings.TrimPrefix(lines[0], `+CDSI: "SM",`))
				if err != nil {
					t.Fatalf("read stored report (%q): %v", lines, err)
				}
				if info = after(info, "+CMGR: "); len(info) != 2 {
					t.Fatalf("+CMGR answered %q", info)
				}
				pduLine = info[1]
			}
			rep := decodeReport(t, pduLine)
			if rep.MR != mustByte(t, mr) || rep.ST != tc.status || rep.RA.Number() != "+4799887766" {
				t.Fatalf("report %+v for mr %s, want status %#x", rep, mr, tc.status)
			}
		})
	}
}

// after drops the lines before the first one starting with prefix:
// warthog618/modem v0.3.0 passes an unsolicited line to its handler and
// also to a command in progress (indLoop's continue only leaves the inner
// loop), so a +CMTI can precede a command's own answer.
func after(info []string, prefix string) []string {
	for i, l := range info {
		if strings.HasPrefix(l, prefix) {
			return info[i:]
		}
	}
	return nil
}

func mustByte(t *testing.T, s string) byte {
	t.Helper()
	var n int
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return byte(n)
}

func decodeReport(t *testing.T, hexPDU string) *tpdu.TPDU {
	t.Helper()
	pdu, err := pdumode.UnmarshalHexString(hexPDU)
	if err != nil {
		t.Fatalf("decode %q: %v", hexPDU, err)
	}
	tp, err := sms.Unmarshal(pdu.TPDU)
	if err != nil {
		t.Fatalf("decode %q: %v", hexPDU, err)
	}
	if tp.SmsType() != tpdu.SmsStatusReport {
		t.Fatalf("%q is a %v, want a status report", hexPDU, tp.SmsType())
	}
	return tp
}

func TestInboundConcatenatedViaCMT(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	g, _ := dial(t, m)
	msgs := make(chan gsm.Message, 1)
	if err := g.StartMessageRx(func(msg gsm.Message) { msgs <- msg }, func(err error) { t.Errorf("rx: %v", err) }); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("Ünïcode inbound ", 10) // UCS-2, three parts
	n, err := m.InjectInbound(modemtest.Inbound{From: "+4711223344", Text: text, Reverse: true})
	if err != nil || n < 2 {
		t.Fatalf("inject: %d parts, %v", n, err)
	}
	msg := receive(t, msgs)
	if msg.Number != "+4711223344" || msg.Message != text {
		t.Fatalf("received %q from %s", msg.Message, msg.Number)
	}
}

func TestInboundStoredViaCMTI(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	g, _ := dial(t, m)
	idx := make(chan []string, 1)
	if err := g.AddIndication("+CMTI:", func(l []string) { idx <- l }); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Command("+CNMI=2,1,0,1,0"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.InjectInbound(modemtest.Inbound{From: "+4711223344", Text: "stored"}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, idx); got[0] != `+CMTI: "SM",1` {
		t.Fatalf("indication %q", got)
	}
	info, err := g.Command("+CMGR=1")
	info = after(info, "+CMGR: ")
	if err != nil || len(info) != 2 || !strings.HasPrefix(info[0], "+CMGR: 0,,") {
		t.Fatalf("+CMGR=1: %q, %v", info, err)
	}
	tp, err := gsm.UnmarshalTPDU([]string{"+CMT: ," + strings.TrimPrefix(info[0], "+CMGR: 0,,"), info[1]})
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := sms.Decode([]*tpdu.TPDU{&tp}); string(text) != "stored" {
		t.Fatalf("stored message says %q", text)
	}
	if _, err := g.Command("+CMGD=1"); err != nil || m.Stored() != 0 {
		t.Fatalf("+CMGD=1: %v, %d stored", err, m.Stored())
	}
	if _, err := g.Command("+CMGR=1"); err != at.CMSError("invalid memory index") {
		t.Fatalf("reading a deleted message: %v, want +CMS ERROR: invalid memory index (gsm.Init asks for verbose errors)", err)
	}
}

func TestWrongPINIsCountedAndLocks(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{PIN: "1234"})
	g, _ := dial(t, m)
	steps := []struct {
		cmd     string
		info    string
		wantErr error
	}{
		{"+CMEE=1", "", nil},
		{"+CPIN?", "+CPIN: SIM PIN", nil},
		{"+CIMI", "", at.CMEError("11")},
		{"+CREG?", "+CREG: 0,0", nil},
		{`+CPIN="0000"`, "", at.CMEError("16")},
		{`+CPIN="1234"`, "", nil},
		{"+CPIN?", "+CPIN: READY", nil},
		{`+CPIN="1234"`, "", at.CMEError("3")},
		{"+CMEE=2;+CIMI", "242016000000001", nil},
	}
	for _, s := range steps {
		info, err := g.Command(s.cmd)
		if err != s.wantErr || (s.info != "" && (len(info) != 1 || info[0] != s.info)) {
			t.Fatalf("AT%s: %q, %v; want %q, %v", s.cmd, info, err, s.info, s.wantErr)
		}
	}
	m.Unplug()
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	g, _ = dial(t, m)
	for i := 0; i < 3; i++ {
		if _, err := g.Command(`+CPIN="9999"`); err == nil {
			t.Fatal("a wrong PIN was accepted")
		}
	}
	if info, _ := g.Command("+CPIN?"); info[0] != "+CPIN: SIM PUK" {
		t.Fatalf("after three wrong PINs: %q", info)
	}
}

func TestInjectedAndProtocolErrors(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	g, _ := dial(t, m)
	if _, err := g.Command("+CMEE=1"); err != nil {
		t.Fatal(err)
	}
	m.FailNext("+CMGS", "+CMS ERROR: 331")
	m.FailNext("+CSQ", "ERROR")
	pdu := submitPDU(t, "+4799887766", "hello", false)
	if _, err := g.SendPDU(pdu); err != at.CMSError("331") {
		t.Fatalf("injected failure: %v", err)
	}
	if _, err := g.Command("+CSQ"); err != at.ErrError {
		t.Fatalf("injected ERROR: %v", err)
	}
	if _, err := g.SMSCommand("+CMGS=5", "0011000B919799887766F60000AA0568656C6C6F"); err != at.CMSError("304") {
		t.Fatalf("wrong length: %v, want +CMS ERROR: 304", err)
	}
	if mr, err := g.SendPDU(pdu); err != nil || mr != "0" {
		t.Fatalf("after the failures: mr %q, %v", mr, err)
	}
	if s := receive(t, m.Sent()); s.Text != "hello" {
		t.Fatalf("sent %+v", s)
	}
	m.SetRegistration(2)
	if _, err := g.SendPDU(pdu); err != at.CMSError("331") {
		t.Fatalf("not registered: %v, want +CMS ERROR: 331", err)
	}
}

func TestUnsolicitedAndGarbageInterleaved(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	g, _ := dial(t, m)
	m.Interleave("+CREG: 1", "\x7f#garbage#")
	m.Unsolicited("RING")
	// warthog618/modem hands unknown lines to the command that is
	// waiting; what matters is that the answer and its OK still arrive.
	info, err := g.Command("+CGSN")
	if err != nil || !slices.Contains(info, "356938035643809") {
		t.Fatalf("+CGSN among noise: %q, %v", info, err)
	}
}

func TestSlowAnswersAndUnplug(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	g, f := dial(t, m)
	m.SetLatency(time.Hour)
	from := len(m.Commands())
	go g.Command("+CSQ", at.WithTimeout(50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if i, err := m.WaitCommand(ctx, "+CSQ", from); err != nil || i != from {
		t.Fatalf("waiting for +CSQ: %d, %v", i, err)
	}
	if _, err := g.Command("+CGSN", at.WithTimeout(50*time.Millisecond)); err != at.ErrDeadlineExceeded {
		t.Fatalf("slow modem: %v, want a deadline", err)
	}
	m.Unplug()
	select {
	case <-g.Closed():
	case <-time.After(wait):
		t.Fatal("the client did not notice the unplug")
	}
	if _, err := os.Lstat(m.Path()); !os.IsNotExist(err) {
		t.Fatalf("path after unplug: %v, want gone", err)
	}
	f.Close()
	if _, err := m.InjectInbound(modemtest.Inbound{From: "+4711223344", Text: "while away"}); err != nil {
		t.Fatal(err)
	}
	m.SetLatency(0)
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	g, _ = dial(t, m)
	info, err := g.Command("+CMGL=4")
	if err != nil || len(info) != 2 || !strings.HasPrefix(info[0], "+CMGL: 1,0,,") {
		t.Fatalf("+CMGL=4 after replug: %q, %v", info, err)
	}
}

func TestEchoAndPromptOnTheWire(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	f, err := os.OpenFile(m.Path(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exchange := func(send, until string) string {
		t.Helper()
		if _, err := f.Write([]byte(send)); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 256)
		for !strings.Contains(string(got), until) {
			if err := f.SetReadDeadline(time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			n, err := f.Read(buf)
			if err != nil {
				t.Fatalf("after %q read %q: %v", send, got, err)
			}
			got = append(got, buf[:n]...)
		}
		return string(got)
	}
	tests := []struct{ send, until, want string }{
		{"\x1bAT\r", "OK\r\n", "AT\r\r\nOK\r\n"},
		{"ATE0\r", "OK\r\n", "ATE0\r\r\nOK\r\n"},
		{"AT+CMGS=10\r", "> ", "\r\n> "},
		{"\x1b", "OK\r\n", "\r\nOK\r\n"},
		{"AT+CMGF=1\r\n", "OK\r\n", "\r\nOK\r\n"},
		{"AT+CMGS=\"+4799887766\"\r", "> ", "\r\n> "},
		{"text mode\x1a", "OK\r\n", "\r\n+CMGS: 0\r\n\r\nOK\r\n"},
	}
	for _, tc := range tests {
		if got := exchange(tc.send, tc.until); got != tc.want {
			t.Fatalf("sent %q, got %q, want %q", tc.send, got, tc.want)
		}
	}
	if s := receive(t, m.Sent()); s.Text != "text mode" || s.To != "+4799887766" {
		t.Fatalf("text mode send: %+v", s)
	}
}

// TestOneSlowCommand: a +CMGS held by the network is answered by nobody
// (modems take one command at a time) and, if the modem is unplugged
// meanwhile, was never sent.
func TestOneSlowCommand(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	g, _ := dial(t, m)
	m.SetCommandLatency("+CMGS", time.Hour)
	if _, err := g.Command("+CSQ"); err != nil {
		t.Fatalf("+CSQ is not slowed: %v", err)
	}
	if _, err := g.SendPDU(submitPDU(t, "+4799887766", "held", false), at.WithTimeout(50*time.Millisecond)); err != at.ErrDeadlineExceeded {
		t.Fatalf("held +CMGS: %v, want a deadline", err)
	}
	m.Unplug()
	m.SetCommandLatency("+CMGS", 0)
	if err := m.Replug(); err != nil {
		t.Fatal(err)
	}
	g, _ = dial(t, m)
	if _, err := g.SendPDU(submitPDU(t, "+4799887766", "after", false)); err != nil {
		t.Fatal(err)
	}
	if s := receive(t, m.Sent()); s.Text != "after" {
		t.Fatalf("sent %q first; the held message never reached the network", s.Text)
	}
}
