package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/routing"
)

func inboundRules(t *testing.T, cfgs ...inbound.RuleConfig) *inbound.Rules {
	t.Helper()
	rs, err := inbound.Compile(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// Inbound rules decide for numbers nobody holds; the holder comes first;
// rule webhooks replace the owner's URL; extract_otp turns code
// extraction on and off; a rule naming no existing account keeps the
// message for admins.
func TestInboundRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		holder, _ := s.EnsureAccount(ctx, "holder")
		bank, _ := s.EnsureAccount(ctx, "bank")
		setWebhook(t, s, holder.ID, "https://holder.example/")
		setWebhook(t, s, bank.ID, "https://bank-account.example/")
		addNumbers(t, s, 1, 2, "")
		held, err := assign(t, s, holder.ID, "US", "")
		if err != nil {
			t.Fatal(err)
		}
		free := "+15550000002"
		if held.E164 == free {
			free = "+15550000001"
		}
		s.SetInboundRules(inboundRules(t,
			inbound.RuleConfig{Name: "bank", Match: routing.Rule{Source: "from == 'KBZ'"}, Account: "bank", Webhook: "https://bank.example/sms"},
			inbound.RuleConfig{Name: "stop", Match: routing.Rule{Source: "keyword == 'STOP'"}, Account: "ghost"},
			inbound.RuleConfig{Name: "chatty", Match: routing.Rule{Source: "from == 'Chatty'"}, ExtractOTP: inbound.OTPSkip},
			inbound.RuleConfig{Name: "de", Match: routing.Rule{Source: "country == 'DE'"}, Account: "bank", ExtractOTP: inbound.OTPExtract},
		))
		const outside = "+4915112345678"
		send := func(id, from, to, text string) {
			t.Helper()
			ev := message.Event{ID: id, Inbound: &inbound.Message{ProviderMessageID: id, Sender: from, Recipient: to, Text: text}}
			if err := s.StoreEvents(ctx, "sandbox", []message.Event{ev}); err != nil {
				t.Fatal(err)
			}
		}
		send("kbz-free", "KBZ", free, "KBZ code 482913")
		send("kbz-held", "KBZ", held.E164, "KBZ code 111222")
		send("stop", "+4411", free, "Stop.")
		send("chatty", "Chatty", held.E164, "Your code is 909090")
		send("de", "DHL", outside, "Code 765432 for your parcel")

		got := map[string][]string{}
		for _, d := range outboxRows(t, s) {
			var body struct {
				Type string `json:"type"`
				Data struct {
					ProviderMessageID string `json:"provider_message_id"`
					To, Code          string
					PhoneNumber       string `json:"phone_number"`
					SMSText           string `json:"sms_text"`
				}
			}
			if err := json.Unmarshal([]byte(d.Payload), &body); err != nil {
				t.Fatal(err)
			}
			key := body.Data.ProviderMessageID
			if d.Type == string(outbox.EventOTPReceived) {
				key = map[string]string{"KBZ code 482913": "kbz-free", "KBZ code 111222": "kbz-held", "Your code is 909090": "chatty",
					"Code 765432 for your parcel": "de"}[body.Data.SMSText]
				body.Data.Code, body.Data.To = "seed:"+body.Data.PhoneNumber, ""
			}
			acc := map[string]string{holder.ID: "holder", bank.ID: "bank"}[d.AccountID]
			got[key] = append(got[key], fmt.Sprintf("%s %s %s %s%s", d.Type, acc, d.CallbackURL, body.Data.Code, body.Data.To))
		}
		want := map[string][]string{
			"kbz-free": {"message.received bank https://bank.example/sms " + free, "otp_received bank https://bank.example/sms seed:" + free,
				"otp.received bank https://bank.example/sms 482913" + free},
			// The holder comes first: the bank rule is passed over.
			"kbz-held": {"message.received holder  " + held.E164, "otp_received holder  seed:" + held.E164, "otp.received holder  111222" + held.E164},
			"chatty":   {"message.received holder  " + held.E164},
			"de":       {"message.received bank  " + outside, "otp_received bank  seed:" + outside, "otp.received bank  765432" + outside},
		}
		for k := range want {
			slices.Sort(want[k])
			slices.Sort(got[k])
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("webhooks:\n%v\nwant\n%v", got, want)
		}
		// Explaining reads the same facts and stores nothing.
		ex, err := s.ExplainInbound(ctx, "sandbox", &inbound.Message{Sender: "KBZ", Recipient: held.E164[1:], Text: "code 1"})
		if err != nil || !ex.Env.Held || !ex.Env.Inventory || ex.Env.Country != "US" || ex.Decision.Rule != "" ||
			len(ex.Steps) != 4 || ex.Steps[0].Outcome != inbound.StepHeld {
			t.Errorf("explain a message to the held number: %+v, %v", ex, err)
		}
		ex, err = s.ExplainInbound(ctx, "sandbox", &inbound.Message{Sender: "KBZ", Recipient: free, Text: "code 1"})
		if err != nil || ex.Env.Held || !ex.Env.Inventory || ex.Decision.Account != "bank" {
			t.Errorf("explain a message to the free number: %+v, %v", ex, err)
		}
		kept, err := s.NumberMessages(ctx, "", free, 10)
		if err != nil {
			t.Fatal(err)
		}
		owners := map[string]string{}
		for _, m := range kept {
			owners[m.ProviderMessageID] = m.AccountID
		}
		if owners["stop"] != "" || owners["kbz-free"] != bank.ID {
			t.Errorf("owners of the free number's messages %v: want stop kept for admins, kbz-free the bank's", owners)
		}
	})
}
