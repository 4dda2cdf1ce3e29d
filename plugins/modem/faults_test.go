package modem_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
	"github.com/smsrouter/smsrouter/sdk"
)

// portDetail is the part of the health detail about one port.
func portDetail(hl sdk.Health, path string) string {
	for _, part := range strings.Split(hl.Detail, "; ") {
		if strings.HasPrefix(part, path+":") {
			return part
		}
	}
	return ""
}

func TestBadPortsStopAloneAndSayWhy(t *testing.T) {
	wrongPIN := modemtest.New(t, modemtest.Options{PIN: "1234"})
	refusing := modemtest.New(t, modemtest.Options{})
	for range 1000 {
		refusing.FailNext("+CMGF", "ERROR")
	}
	good := modemtest.New(t, modemtest.Options{})
	missing := filepath.Join(t.TempDir(), "ttyUSB9")
	h := start(t, fast(
		map[string]any{"path": wrongPIN.Path(), "pin": "9731"},
		refusing.Path(),
		missing,
		good.Path(),
	))
	cases := []struct {
		path, want string
	}{
		{wrongPIN.Path(), "needs_human (port " + wrongPIN.Path() + ": AT+CPIN=<pin> answered CME Error: 16: the SIM refused the configured PIN"},
		{refusing.Path(), "AT+CMGF=0: ERROR"},
		{missing, "open port " + missing},
	}
	hl := h.waitHealth(t, "every bad port reported", func(hl sdk.Health) bool {
		for _, c := range cases {
			if !strings.Contains(portDetail(hl, c.path), c.want) {
				return false
			}
		}
		return strings.HasPrefix(hl.Detail, "1/4 ports ready")
	})
	if !hl.OK {
		t.Errorf("health %+v: want OK with one good port", hl)
	}
	if strings.Contains(hl.Detail, "9731") {
		t.Errorf("health detail shows the PIN: %s", hl.Detail)
	}
	res := h.send(t, sdk.Message{ID: "m1", To: "+4791234567", Text: "still works"})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("send with one good port: %+v", res)
	}
	if s := submitted(t, good); s.Text != "still works" {
		t.Errorf("good port sent %+v", s)
	}
	tries := 0
	for _, c := range wrongPIN.Commands() {
		if strings.HasPrefix(c, "+CPIN=") {
			tries++
		}
	}
	if tries != 1 {
		t.Errorf("the wrong PIN was tried %d times, want once: %v", tries, wrongPIN.Commands())
	}
}

func TestUnpluggedPortIsReopenedWhileOthersWork(t *testing.T) {
	a := modemtest.New(t, modemtest.Options{Operator: "Telia"})
	b := modemtest.New(t, modemtest.Options{Operator: "Telenor"})
	h := start(t, fast(a.Path(), b.Path()))
	h.ready(t, 2)

	// A message on the line when its port goes away is answered as the
	// port's fault, once, so the host sends it elsewhere.
	a.SetLatency(500 * time.Millisecond)
	results := make(chan sdk.SendResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		res, _ := h.p.Send(ctx, []sdk.Message{{ID: "inflight", To: "+4791234567", Text: "on the line",
			Metadata: map[string]string{"modem_operator": "Telia"}}})
		results <- res[0]
	}()
	h.waitHealth(t, "the message on port a", func(sdk.Health) bool { return lastCommandIs(a, "+CMGS=") })
	a.Unplug()
	res := <-results
	if res.Outcome != sdk.OutcomeUnavailable || res.Code != "PORT_GONE" || !strings.Contains(res.Reason, a.Path()) {
		t.Fatalf("in-flight result = %+v, want unavailable PORT_GONE naming %s", res, a.Path())
	}
	h.waitHealth(t, "port a down", func(hl sdk.Health) bool { return strings.HasPrefix(hl.Detail, "1/2") })

	for i := range 5 {
		res := h.send(t, sdk.Message{ID: fmt.Sprintf("m%d", i), To: "+4791234567", Text: "via b"})
		if res.Outcome != sdk.Accepted {
			t.Fatalf("message %d while a is unplugged: %+v", i, res)
		}
		submitted(t, b)
	}
	// Pinned to the unplugged operator: no other port will do.
	res = h.send(t, sdk.Message{ID: "pinned", To: "+4791234567", Text: "x", Metadata: map[string]string{"modem_operator": "Telia"}})
	if res.Outcome != sdk.OutcomeUnavailable || res.Code != "NO_PORT" {
		t.Errorf("pinned to an absent operator: %+v", res)
	}

	a.SetLatency(0)
	if err := a.Replug(); err != nil {
		t.Fatal(err)
	}
	h.ready(t, 2)
	res = h.send(t, sdk.Message{ID: "back", To: "+4791234567", Text: "a is back", Metadata: map[string]string{"modem_operator": "telia"}})
	if res.Outcome != sdk.Accepted {
		t.Fatalf("after replug: %+v", res)
	}
	if s := submitted(t, a); s.Text != "a is back" {
		t.Errorf("port a sent %+v", s)
	}
}

func lastCommandIs(m *modemtest.Modem, prefix string) bool {
	cmds := m.Commands()
	return len(cmds) > 0 && strings.HasPrefix(cmds[len(cmds)-1], prefix)
}

func TestUnresponsivePortIsReopened(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	s := fast(m.Path())
	s["command_timeout"] = "200ms"
	s["health_interval"] = "100ms"
	h := start(t, s)
	h.ready(t, 1)
	m.SetLatency(time.Second)
	h.waitHealth(t, "port reported not answering", func(hl sdk.Health) bool { return !hl.OK })
	m.SetLatency(0)
	h.ready(t, 1)
}

func TestUnregisteredPortIsUnhealthyAndSkipped(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	h := start(t, fast(m.Path()))
	h.ready(t, 1)
	m.SetRegistration(2)
	hl := h.waitHealth(t, "searching", func(hl sdk.Health) bool { return !hl.OK })
	if !strings.Contains(hl.Detail, "searching") {
		t.Errorf("detail = %q", hl.Detail)
	}
	res := h.send(t, sdk.Message{ID: "m", To: "+4791234567", Text: "x"})
	if res.Outcome != sdk.OutcomeUnavailable || res.Code != "NO_PORT" {
		t.Errorf("result = %+v", res)
	}
}

func TestUnsolicitedLinesInterleavedWithAnswers(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	h := start(t, fast(m.Path()))
	h.ready(t, 1)
	m.Interleave("RING", "+CREG: 1", "garbage \x01 line")
	if res := h.send(t, sdk.Message{ID: "m", To: "+4791234567", Text: "through the noise"}); res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	if _, err := m.InjectInbound(modemtest.Inbound{From: "+4798765432", Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	m.Interleave("+CSQ: 5,99")
	if res := h.send(t, sdk.Message{ID: "m2", To: "+4791234567", Text: "again"}); res.Outcome != sdk.Accepted {
		t.Fatalf("result = %+v", res)
	}
	for ev := h.event(t); ev.Inbound == nil; ev = h.event(t) {
	}
}

func TestPoolSpreadsAcrossPorts(t *testing.T) {
	mods := []*modemtest.Modem{
		modemtest.New(t, modemtest.Options{Latency: 50 * time.Millisecond}),
		modemtest.New(t, modemtest.Options{Latency: 50 * time.Millisecond}),
		modemtest.New(t, modemtest.Options{Latency: 50 * time.Millisecond}),
	}
	h := start(t, fast(mods[0].Path(), mods[1].Path(), mods[2].Path()))
	h.ready(t, 3)
	var msgs []sdk.Message
	for i := range 9 {
		msgs = append(msgs, sdk.Message{ID: fmt.Sprintf("m%d", i), To: "+4791234567", Text: "spread"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := h.p.Send(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Outcome != sdk.Accepted || r.MessageID != msgs[i].ID {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	for i, m := range mods {
		if n := len(m.Sent()); n != 3 {
			t.Errorf("port %d sent %d, want 3 of 9", i, n)
		}
	}
}

// Close does not wait out a modem that takes its time over +CMGS: the
// message on the line is answered as the port's fault, once.
func TestCloseInterruptsASlowSend(t *testing.T) {
	m := modemtest.New(t, modemtest.Options{})
	s := fast(m.Path())
	s["send_timeout"] = "60s"
	s["health_interval"] = "1h" // nothing but the send on the line
	h := start(t, s)
	h.ready(t, 1)
	m.SetLatency(30 * time.Second)
	results := make(chan sdk.SendResult, 1)
	go func() {
		res, _ := h.p.Send(context.Background(), []sdk.Message{{ID: "slow", To: "+4791234567", Text: "x"}})
		results <- res[0]
	}()
	// The simulator signals nothing when a command arrives: look, boundedly.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for i := 0; !lastCommandIs(m, "+CMGS="); i++ {
		if i > int(waitLimit/(5*time.Millisecond)) {
			t.Fatalf("the modem never got +CMGS: %v", m.Commands())
		}
		<-tick.C
	}
	began := time.Now()
	if err := h.p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	if res := <-results; res.Outcome != sdk.OutcomeUnavailable || res.Code != "PORT_GONE" {
		t.Errorf("result = %+v", res)
	}
}

// A SIM that reports no number of its own gets its country from its
// IMSI's MCC; one with a number keeps the number's.
func TestPortCountryFromIMSIWithoutANumber(t *testing.T) {
	bare := modemtest.New(t, modemtest.Options{IMSI: "414090000000001"})
	numbered := modemtest.New(t, modemtest.Options{IMSI: "414090000000002", OwnNumber: "+4790000001"})
	h := start(t, fast(bare.Path(), numbered.Path()))
	hl := h.ready(t, 2)
	if d := portDetail(hl, bare.Path()); !strings.Contains(d, "(MM)") {
		t.Errorf("port without a number: %q, want its country MM from the IMSI", d)
	}
	if d := portDetail(hl, numbered.Path()); !strings.Contains(d, "(NO)") {
		t.Errorf("port with a Norwegian number: %q, want NO", d)
	}
}
