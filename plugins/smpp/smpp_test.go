package smpp_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

func conformanceTarget(srv *smsctest.Server) providertest.Target {
	return providertest.Target{
		Name:     "smpp",
		Settings: settingsFor(srv, map[string]any{"window": 20}),
		BadSettings: []json.RawMessage{
			json.RawMessage(`{"host":"127.0.0.1","port":2775}`),
			json.RawMessage(`{"host":"127.0.0.1","system_id":"x","password":"much-too-long"}`),
			json.RawMessage(`{"host":"127.0.0.1","system_id":"x","window":0}`),
			json.RawMessage(`{"host":"127.0.0.1","system_id":"x","long_message":"carrier-pigeon"}`),
			json.RawMessage(`{"host":"127.0.0.1","system_id":"x","validity_period":"forever"}`),
			json.RawMessage(`{"host":"127.0.0.1","system_id":"x","surprise":true}`),
		},
		ExpectReports: true,
		ReportTimeout: 5 * time.Second,
	}
}

func TestConformance(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{SystemID: "test", Password: "secret", ReceiptDelay: 5 * time.Millisecond, DropWhenUnbound: true})
	target := conformanceTarget(srv)
	target.New = func() sdk.Provider { return smpp.New() }
	providertest.Run(t, target)
}

func TestConformanceBinary(t *testing.T) {
	bin := pluginBinary(t)
	srv := startSMSC(t, smsctest.Config{SystemID: "test", Password: "secret", ReceiptDelay: 5 * time.Millisecond, DropWhenUnbound: true})
	target := conformanceTarget(srv)
	target.Command = func() *exec.Cmd { return exec.Command(bin) }
	providertest.Run(t, target)
}

// TestSendAndReceipts sends through the simulator and checks every accepted
// message gets its receipt under the id Send returned, whatever bases the
// SMSC writes its ids in.
func TestSendAndReceipts(t *testing.T) {
	cases := []struct {
		name            string
		smscResp, smscR string
		resp, receipt   string
		outcome         string
		want            sdk.Status
		receiptFirst    bool
		extra           map[string]any
	}{
		{name: "hex ids", smscResp: "hex", smscR: "hex", resp: "hex", receipt: "hex", outcome: "DELIVRD", want: sdk.StatusDelivered},
		{name: "hex resp, decimal receipt", smscResp: "hex", smscR: "dec", resp: "hex", receipt: "dec", outcome: "DELIVRD", want: sdk.StatusDelivered},
		{name: "decimal resp, hex receipt", smscResp: "dec", smscR: "hex", resp: "dec", receipt: "hex", outcome: "UNDELIV", want: sdk.StatusUndeliverable},
		{name: "receipt before submit_sm_resp", smscResp: "hex", smscR: "hex", resp: "hex", receipt: "hex", outcome: "EXPIRED", want: sdk.StatusExpired, receiptFirst: true},
		{name: "two transmitter+receiver pairs", smscResp: "hex", smscR: "hex", resp: "hex", receipt: "hex", outcome: "REJECTD", want: sdk.StatusRejected,
			extra: map[string]any{"bind_mode": "transmitter_receiver", "binds": 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{SystemID: "test", Password: "secret", RespIDFormat: tc.smscResp, ReceiptIDFormat: tc.smscR,
				Outcomes: map[string]string{"1": tc.outcome}, ReceiptFirst: tc.receiptFirst})
			extra := map[string]any{"resp_id_format": tc.resp, "receipt_id_format": tc.receipt, "window": 10}
			for k, v := range tc.extra {
				extra[k] = v
			}
			p := newProvider(t, srv, extra)
			c := collect(t, p)
			msgs := messages("msg_", 30, "hello")
			res := send(t, p, msgs)
			want := map[string]bool{}
			for i, r := range res {
				if r.Outcome != sdk.Accepted || r.MessageID != msgs[i].ID {
					t.Fatalf("result %d = %+v", i, r)
				}
				want[r.ProviderMessageID] = true
			}
			evs := c.await(t, "a receipt per message", 5*time.Second, func(evs []sdk.Event) bool {
				got := statuses(evs)
				for id := range want {
					if _, ok := got[id]; !ok {
						return false
					}
				}
				return true
			})
			for id, st := range statuses(evs) {
				if !want[id] {
					t.Errorf("receipt for unknown provider id %q", id)
				}
				if st.Status != tc.want || st.ProviderStatus != tc.outcome {
					t.Errorf("receipt %s = %s (%s), want %s (%s)", id, st.Status, st.ProviderStatus, tc.want, tc.outcome)
				}
				if tc.want != sdk.StatusDelivered && st.ErrorCode == "" {
					t.Errorf("failure receipt %s has no error code", id)
				}
			}
			// Submits carry the destination in international form.
			for _, sub := range srv.Submitted() {
				if sub.DestTON != 1 || strings.HasPrefix(sub.Dest, "+") {
					t.Errorf("destination %q TON %d; want international digits", sub.Dest, sub.DestTON)
				}
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{Errors: map[string]uint32{
		"1000": 0x0B, // invalid destination
		"1001": 0x45, // submit failed
		"1002": 0x14, // queue full
		"1003": 0x08, // system error
		"1004": 0x0A, // invalid source
	}})
	p := newProvider(t, srv, nil)
	cases := []struct {
		to      string
		outcome sdk.Outcome
		code    string
		refusal sdk.Refusal // what failover_on matches
	}{
		{"+10005550000", sdk.Permanent, "0x0000000B", sdk.RefusalInvalidDestination},
		{"+10015550000", sdk.Permanent, "0x00000045", ""},
		{"+10025550000", sdk.Temporary, "0x00000014", ""},
		{"+10035550000", sdk.Temporary, "0x00000008", ""},
		{"+10045550000", sdk.Permanent, "0x0000000A", sdk.RefusalInvalidSender},
		{"+14155550000", sdk.Accepted, "0x00000000", ""},
		{"not-a-number", sdk.Permanent, "INVALID_MESSAGE", sdk.RefusalInvalidMessage},
	}
	var msgs []sdk.Message
	for i, tc := range cases {
		msgs = append(msgs, sdk.Message{ID: "msg_err_" + string(rune('a'+i)), To: tc.to, Text: "x"})
	}
	res := send(t, p, msgs)
	for i, tc := range cases {
		r := res[i]
		if r.Outcome != tc.outcome || r.Code != tc.code || r.Refusal != tc.refusal {
			t.Errorf("%s: got %s %s %q (%s), want %s %s %q", tc.to, r.Outcome, r.Code, r.Refusal, r.Reason, tc.outcome, tc.code, tc.refusal)
		}
		if r.Outcome != sdk.Accepted && r.Reason == "" {
			t.Errorf("%s: %s without a reason", tc.to, r.Outcome)
		}
	}
}

// TestThrottlingSlowsTheLink: an SMSC that accepts 300 submits a second
// throttles a faster link; every message still goes through.
func TestThrottlingSlowsTheLink(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{ThrottleAfter: 300})
	p := newProvider(t, srv, map[string]any{"window": 20, "max_batch_size": 500})
	res := send(t, p, messages("msg_thr_", 500, "throttle me"))
	for i, r := range res {
		if r.Outcome != sdk.Accepted {
			t.Fatalf("message %d: %s %s %s", i, r.Outcome, r.Code, r.Reason)
		}
	}
	st := srv.Stats()
	if st.Throttled == 0 {
		t.Fatalf("the SMSC never throttled (stats %+v); the test does not test anything", st)
	}
	if st.Accepted != 500 {
		t.Errorf("SMSC accepted %d submits, want 500", st.Accepted)
	}
	h, err := p.Health(t.Context())
	if err != nil || !h.OK || !strings.Contains(h.Detail, "throttled") {
		t.Errorf("health = %+v, %v; want OK and the throttling mentioned", h, err)
	}
	t.Logf("throttled %d times; %s", st.Throttled, h.Detail)
}

// TestReconnectWithoutLossOrDuplicates drops the link in the middle of a
// batch: every message is accepted exactly once by the SMSC, under the id
// Send returned.
func TestReconnectWithoutLossOrDuplicates(t *testing.T) {
	cases := []struct {
		name  string
		binds int
		drops []int
	}{
		{"one bind, reconnect", 1, []int{40}},
		{"two binds, failover", 2, []int{25, 60}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{Latency: 2 * time.Millisecond, Window: 20})
			p := newProvider(t, srv, map[string]any{"window": 20, "binds": tc.binds, "max_batch_size": 200})
			msgs := messages("msg_drop_", 200, "no loss")
			type answer struct {
				res []sdk.SendResult
			}
			done := make(chan answer, 1)
			srv.DropOnSubmit(tc.drops[0])
			go func() {
				res, _ := p.Send(context.Background(), msgs)
				done <- answer{res}
			}()
			a := <-done
			if len(a.res) != len(msgs) {
				t.Fatalf("%d results", len(a.res))
			}
			byText := map[string][]string{}
			for _, sub := range srv.Submitted() {
				byText[string(sub.UserData)] = append(byText[string(sub.UserData)], strings.ToLower(sub.ID))
			}
			for i, r := range a.res {
				if r.Outcome != sdk.Accepted {
					t.Errorf("message %d: %s %s", i, r.Outcome, r.Reason)
					continue
				}
				ids := byText[msgs[i].Text]
				if len(ids) != 1 {
					t.Errorf("message %d was accepted by the SMSC %d times: %v", i, len(ids), ids)
					continue
				}
				if ids[0] != r.ProviderMessageID {
					t.Errorf("message %d: provider id %q, SMSC id %q", i, r.ProviderMessageID, ids[0])
				}
			}
			if st := srv.Stats(); st.Binds < int64(tc.binds+1) {
				t.Errorf("stats %+v: the link was never re-bound", st)
			}
			if st := srv.Stats(); st.WindowViolations != 0 {
				t.Errorf("the plugin overran the window %d times", st.WindowViolations)
			}
		})
	}
}

func TestWrongCredentialsInHealth(t *testing.T) {
	cases := []struct {
		name, systemID, password, want string
	}{
		{"wrong password", "test", "nope", "ESME_RINVPASWD"},
		{"wrong system_id", "who", "secret", "ESME_RINVSYSID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{SystemID: "test", Password: "secret"})
			p := newProvider(t, srv, map[string]any{"system_id": tc.systemID, "password": tc.password})
			h, err := p.Health(t.Context())
			if err != nil || h.OK || !strings.Contains(h.Detail, tc.want) || !strings.Contains(h.Detail, "check system_id and password") {
				t.Errorf("health = %+v, %v; want not OK naming %s", h, err, tc.want)
			}
			if _, err := p.Send(t.Context(), messages("msg_cred_", 1, "x")); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Send error = %v; want the bind failure", err)
			}
		})
	}
}

func TestInboundMessages(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := newProvider(t, srv, nil)
	c := collect(t, p)
	long := strings.Repeat("A long inbound message in several parts. ", 10)
	uni := strings.Repeat("Привет, мир! ", 12)
	texts := []string{"STOP", long, uni}
	for _, txt := range texts {
		if err := srv.InjectMO("+79991234567", "7522", txt); err != nil {
			t.Fatal(err)
		}
	}
	evs := c.await(t, "three inbound messages", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) >= 3 })
	got := map[string]bool{}
	for _, ev := range evs {
		if ev.Inbound == nil {
			t.Fatalf("unexpected event %+v", ev)
		}
		if ev.Inbound.From != "+79991234567" || ev.Inbound.To != "7522" {
			t.Errorf("inbound from %q to %q", ev.Inbound.From, ev.Inbound.To)
		}
		got[ev.Inbound.Text] = true
	}
	for _, txt := range texts {
		if !got[txt] {
			t.Errorf("inbound text %q not received intact; got %v", txt, got)
		}
	}
	// Short GSM7 parts are 134 characters in the simulator (gosmpp's split).
	awaitStats(t, srv, "every inbound part acknowledged", func(st smsctest.Stats) bool { return st.InboundAcked == 1+4+3 })
}

// TestRefusedEventIsDeliveredAgain: when the host cannot store a receipt
// the SMSC is told to deliver it again, and it arrives a second time.
func TestRefusedEventIsDeliveredAgain(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{RedeliverAfter: 10 * time.Millisecond})
	p := newProvider(t, srv, nil)
	res := send(t, p, messages("msg_refuse_", 1, "x"))
	c := &collector{changed: make(chan struct{})}
	refused := 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = p.Events(ctx, func(ctx context.Context, ev sdk.Event) error {
			if refused == 0 {
				refused++
				return context.DeadlineExceeded
			}
			return c.store(ctx, ev)
		})
	}()
	defer func() { cancel(); <-done }()
	c.await(t, "the receipt again", 5*time.Second, func(evs []sdk.Event) bool {
		_, ok := statuses(evs)[res[0].ProviderMessageID]
		return ok
	})
	awaitStats(t, srv, "one refused and one acknowledged receipt", func(st smsctest.Stats) bool {
		return st.DeliverRefused == 1 && st.ReceiptsAcked == 1
	})
}

func TestCloseUnbinds(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := smpp.New()
	if err := p.Configure(t.Context(), sdk.Config{Name: "x", Settings: settingsFor(srv, nil)}); err != nil {
		t.Fatal(err)
	}
	send(t, p, messages("msg_close_", 3, "x"))
	if err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Unbinds != 1 {
		t.Errorf("unbinds = %d, want 1", st.Unbinds)
	}
	if _, err := p.Send(t.Context(), messages("msg_close2_", 1, "x")); err == nil {
		t.Error("Send after Close succeeded")
	}
}

func TestEnquireLinkKeepsIdleLinkAlive(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := newProvider(t, srv, map[string]any{"enquire_link": "100ms"})
	awaitStats(t, srv, "enquire_links on an idle link", func(st smsctest.Stats) bool { return st.EnquireLinks >= 2 })
	send(t, p, messages("msg_idle_", 1, "x"))
	if st := srv.Stats(); st.Binds != 1 {
		t.Errorf("binds = %d; the idle link was dropped", st.Binds)
	}
}

func awaitStats(t *testing.T, srv *smsctest.Server, what string, cond func(smsctest.Stats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := srv.Await(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
