package smpp_test

// Tests against an SMSC this project did not write: fiorix go-smpp's
// smpptest server, with a handler playing an SMSC that restarts its message
// ids and unbinds when told to.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiorix/go-smpp/smpp/pdu"
	"github.com/fiorix/go-smpp/smpp/pdu/pdufield"
	"github.com/fiorix/go-smpp/smpp/pdu/pdutlv"
	"github.com/fiorix/go-smpp/smpp/smpptest"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/smpp"
	"github.com/smsrouter/smsrouter/sdk"
)

// fiorixSMSC answers submits with decimal ids from a counter, sends a
// DELIVRD receipt for each, and unbinds the session after a submit to a
// destination starting with 1999.
type fiorixSMSC struct {
	srv *smpptest.Server

	mu          sync.Mutex
	nextID      int
	unbindResps chan struct{}
}

func startFiorix(t *testing.T) *fiorixSMSC {
	t.Helper()
	f := &fiorixSMSC{nextID: 1, unbindResps: make(chan struct{}, 16)}
	f.srv = smpptest.NewUnstartedServer()
	f.srv.Handler = f.handle
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// restartIDs makes the SMSC issue ids from 1 again, as after its restart.
func (f *fiorixSMSC) restartIDs() {
	f.mu.Lock()
	f.nextID = 1
	f.mu.Unlock()
}

// handle runs on the connection's reader, so its writes never overlap.
func (f *fiorixSMSC) handle(c smpptest.Conn, m pdu.Body) {
	switch m.Header().ID {
	case pdu.SubmitSMID:
		fields := m.Fields()
		dest, src := fields[pdufield.DestinationAddr].String(), fields[pdufield.SourceAddr].String()
		f.mu.Lock()
		id := strconv.Itoa(f.nextID)
		f.nextID++
		f.mu.Unlock()
		resp := pdu.NewSubmitSMResp()
		resp.Header().Seq = m.Header().Seq
		_ = resp.Fields().Set(pdufield.MessageID, id)
		_ = c.Write(resp)
		if strings.HasPrefix(dest, "1999") {
			_ = c.Write(pdu.NewUnbind())
			return
		}
		now := time.Now().UTC().Format("0601021504")
		d := pdu.NewDeliverSM()
		df := d.Fields()
		_ = df.Set(pdufield.SourceAddrTON, 1)
		_ = df.Set(pdufield.SourceAddrNPI, 1)
		_ = df.Set(pdufield.SourceAddr, dest)
		_ = df.Set(pdufield.DestinationAddr, src)
		_ = df.Set(pdufield.ESMClass, 0x04)
		// go-smpp writes its UDH fields (an octet of 0 when unset) into
		// every deliver_sm, which no SMSC does; leave them out.
		_ = df.Set(pdufield.UDHLength, absent{})
		_ = df.Set(pdufield.GSMUserData, absent{})
		_ = df.Set(pdufield.ShortMessage, fmt.Sprintf("id:%s sub:001 dlvrd:001 submit date:%s done date:%s stat:DELIVRD err:000 text:", id, now, now))
		_ = d.TLVFields().Set(pdutlv.TagReceiptedMessageID, pdutlv.CString(id))
		_ = c.Write(d)
	case pdu.EnquireLinkID:
		resp := pdu.NewEnquireLinkResp()
		resp.Header().Seq = m.Header().Seq
		_ = c.Write(resp)
	case pdu.UnbindID:
		resp := pdu.NewUnbindResp()
		resp.Header().Seq = m.Header().Seq
		_ = c.Write(resp)
	case pdu.UnbindRespID:
		f.unbindResps <- struct{}{}
	}
}

// absent is a go-smpp PDU field that writes nothing.
type absent struct{}

func (absent) Len() int                    { return 0 }
func (absent) Raw() any                    { return nil }
func (absent) String() string              { return "" }
func (absent) Bytes() []byte               { return nil }
func (absent) SerializeTo(io.Writer) error { return nil }

func (f *fiorixSMSC) provider(t *testing.T) *smpp.Provider {
	t.Helper()
	host, port, _ := net.SplitHostPort(f.srv.Addr())
	n, _ := strconv.Atoi(port)
	settings, _ := json.Marshal(map[string]any{
		"host": host, "port": n, "system_id": smpptest.DefaultUser, "password": smpptest.DefaultPasswd,
		"resp_id_format": "dec", "receipt_id_format": "dec", "response_timeout": "2s",
		"reconnect_backoff": "10ms", "reconnect_backoff_max": "100ms", "queue_timeout": "5s",
	})
	p := smpp.New()
	t.Cleanup(func() { p.Close(context.Background()) })
	if err := p.Configure(t.Context(), sdk.Config{Name: "fiorix", Settings: settings, Logger: testLogger(t)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFiorixReceiptsAfterIDRestart: the SMSC gives two messages id 1 (it
// restarted in between); each receipt reaches its own message in the
// store, on both drivers, and neither is dropped as a duplicate.
func TestFiorixReceiptsAfterIDRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := startFiorix(t)
		p := f.provider(t)
		stored := make(chan sdk.Event, 8)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = p.Events(ctx, func(ctx context.Context, ev sdk.Event) error {
				if err := st.StoreEvents(ctx, "fiorix", pluginhost.Events([]sdk.Event{ev})); err != nil {
					return err
				}
				stored <- ev
				return nil
			})
		}()
		t.Cleanup(func() { cancel(); <-done })

		before := sendThroughStore(t, st, p, "+14155550001")
		f.restartIDs()
		after := sendThroughStore(t, st, p, "+14155550002")
		ids := map[string]bool{}
		for range 2 {
			select {
			case ev := <-stored:
				ids[ev.ID] = true
			case <-time.After(5 * time.Second):
				t.Fatalf("timed out waiting for the receipts; have %d", len(ids))
			}
		}
		if len(ids) != 2 {
			t.Errorf("the two receipts for id 1 had one event id: %v", ids)
		}
		// As the dispatcher does: a receipt held by a transaction that ran
		// alongside the one recording its message is applied by the sweep.
		if _, err := st.ApplyHeldStatuses(t.Context(), 100); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{before, after} {
			m, err := st.GetMessage(t.Context(), "acc_interop", id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != "delivered" || m.ProviderMessageID != "1" {
				t.Errorf("message to %s: %s with provider id %q, want delivered with id 1", m.Recipient, m.Status, m.ProviderMessageID)
			}
		}
	})
}

// sendThroughStore stores a message to to, sends it through p as the
// dispatcher does and records the answer; it returns the message id.
func sendThroughStore(t *testing.T, st *store.Store, p *smpp.Provider, to string) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	m := &store.Message{ID: recordid.New("msg_"), AccountID: "acc_interop", Recipient: to, Text: "hello", Encoding: "gsm7",
		Segments: 1, Kind: "sms", Status: message.Queued, Plan: `["fiorix"]`, NextAttemptAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := storetest.InsertMessages(t.Context(), st, []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
	if got, err := st.ClaimDue(t.Context(), now, 10, time.Minute); err != nil || len(got) != 1 {
		t.Fatalf("ClaimDue = %d messages, %v", len(got), err)
	}
	res := send(t, p, []sdk.Message{{ID: m.ID, To: to, Text: m.Text, Encoding: sdk.EncodingGSM7, Segments: 1}})[0]
	if res.Outcome != sdk.Accepted {
		t.Fatalf("send to %s: %+v", to, res)
	}
	if err := st.RecordAttempts(t.Context(), []message.Attempt{{MessageID: m.ID, Provider: "fiorix", Status: message.Sent,
		ProviderMessageID: res.ProviderMessageID, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// TestFiorixUnbindIsAnswered: when the SMSC unbinds, it reads our
// unbind_resp (before, the connection was closed 2 ms after queueing it,
// and the SMSC never saw it), and the plugin binds again and sends.
func TestFiorixUnbindIsAnswered(t *testing.T) {
	f := startFiorix(t)
	p := f.provider(t)
	for i := range 3 {
		res := sendWhenBound(t, p, sdk.Message{ID: fmt.Sprintf("msg_unbind_%d", i), To: "+19995550000", Text: "unbind me", Encoding: sdk.EncodingGSM7, Segments: 1})
		if res.Outcome != sdk.Accepted {
			t.Fatalf("send %d: %+v", i, res)
		}
		select {
		case <-f.unbindResps:
		case <-time.After(5 * time.Second):
			t.Fatalf("unbind %d: the SMSC got no unbind_resp", i)
		}
	}
}

// sendWhenBound sends m once a bind is up: after an unbind the plugin binds
// again within reconnect_backoff, and nothing signals when.
func sendWhenBound(t *testing.T, p *smpp.Provider, m sdk.Message) sdk.SendResult {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := p.Send(t.Context(), []sdk.Message{m})
		if err == nil {
			return res[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bind up again: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
