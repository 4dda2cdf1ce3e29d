package smpp_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warthog618/sms/encoding/gsm7"
	"github.com/warthog618/sms/encoding/ucs2"

	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestLongMessages sends long GSM7 and UCS-2 texts with each long-message
// method and checks what reached the SMSC: the part count the host charged,
// the right concatenation data, and the text intact; then that the message
// is reported delivered once, when every part is.
func TestLongMessages(t *testing.T) {
	texts := map[string]string{
		"gsm7 with extension characters": strings.Repeat("Price: 5€ [promo] ", 20),
		"ucs2 with emoji":                strings.Repeat("Привет 😀 ", 20),
	}
	for _, method := range []string{"udh", "sar", "payload"} {
		for name, text := range texts {
			t.Run(method+"/"+name, func(t *testing.T) {
				srv := startSMSC(t, smsctest.Config{})
				p := newProvider(t, srv, map[string]any{"long_message": method})
				c := collect(t, p)
				enc, n := segment.Count(text)
				res := send(t, p, []sdk.Message{{ID: "msg_long", To: "+14155550100", From: "MyBrand", Text: text, Encoding: sdk.Encoding(enc), Segments: n}})
				if res[0].Outcome != sdk.Accepted {
					t.Fatalf("result %+v", res[0])
				}
				subs := srv.Submitted()
				wantParts := n
				if method == "payload" {
					wantParts = 1
				}
				if len(subs) != wantParts {
					t.Fatalf("%d submits, want %d", len(subs), wantParts)
				}
				sort.Slice(subs, func(i, j int) bool { return subs[i].ConcatSeq < subs[j].ConcatSeq })
				var got strings.Builder
				for i, sub := range subs {
					if sub.SourceTON != 5 || sub.Source != "MyBrand" {
						t.Errorf("source %q TON %d; want alphanumeric", sub.Source, sub.SourceTON)
					}
					switch method {
					case "udh", "sar":
						if sub.ConcatTotal != n || sub.ConcatSeq != i+1 || sub.SAR != (method == "sar") || (sub.EsmClass&0x40 != 0) != (method == "udh") {
							t.Errorf("part %d: %+v", i, sub)
						}
					case "payload":
						if !sub.Payload {
							t.Errorf("text not in message_payload: %+v", sub)
						}
					}
					if enc == segment.GSM7 {
						b, err := gsm7.Decode(sub.UserData)
						if err != nil || sub.DataCoding != 0 {
							t.Fatalf("part %d: data_coding %d, %v", i, sub.DataCoding, err)
						}
						got.Write(b)
					} else {
						r, err := ucs2.Decode(sub.UserData)
						if err != nil || sub.DataCoding != 8 {
							t.Fatalf("part %d: data_coding %d, %v", i, sub.DataCoding, err)
						}
						got.WriteString(string(r))
					}
				}
				if got.String() != text {
					t.Errorf("SMSC got %q, want %q", got.String(), text)
				}
				awaitStats(t, srv, "every part's receipt acknowledged", func(st smsctest.Stats) bool { return st.ReceiptsAcked == int64(wantParts) })
				evs := c.await(t, "the message's receipt", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) >= 1 })
				if len(evs) != 1 || evs[0].Status == nil || evs[0].Status.ProviderMessageID != res[0].ProviderMessageID || evs[0].Status.Status != sdk.StatusDelivered {
					t.Errorf("events %+v; want one delivered for %s", evs, res[0].ProviderMessageID)
				}
			})
		}
	}
}
