package core_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// rawText is a message's text columns as the database holds them.
type rawText struct {
	Text       string
	SealedText *string
}

func readRaw(t *testing.T, st *store.Store, id string) rawText {
	t.Helper()
	var r rawText
	if err := st.DB().Raw("SELECT text, sealed_text FROM messages WHERE id = ?", id).Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOTPCodeNeverStoredInClear sends a code, reads the row with raw SQL
// while the message waits and after it is final, and verifies the code: the
// provider gets the full text, the database never holds the code in the
// clear, and the text kept once final shows it masked.
func TestOTPCodeNeverStoredInClear(t *testing.T) {
	cfg, err := config.Parse([]byte(benchConfig), "otp.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		acc, err := st.CreateAccount(ctx, "otp")
		if err != nil {
			t.Fatal(err)
		}
		svc := core.NewService(st, cfg.Table, nil, core.Options{})
		if _, err := svc.SendOTP(ctx, acc.ID, "+959123456789"); err != nil {
			t.Fatal(err)
		}
		// The dispatcher's view: the provider is handed the plaintext.
		claimed, err := st.ClaimDue(ctx, time.Now().Add(time.Second), 10, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimDue = %d messages, %v; want the code's message", len(claimed), err)
		}
		m := claimed[0]
		code := regexp.MustCompile(`^Your verification code is (\d{6})$`).FindStringSubmatch(m.Text)
		if code == nil {
			t.Fatalf("the provider would get %q, want the full text with the code", m.Text)
		}
		raw := readRaw(t, st, m.ID)
		if strings.Contains(raw.Text, code[1]) || raw.SealedText == nil || strings.Contains(*raw.SealedText, code[1]) {
			t.Fatalf("stored while in flight: text %q, sealed_text %v; want no code in the clear", raw.Text, raw.SealedText)
		}
		if raw.Text != "Your verification code is ******" {
			t.Errorf("stored text %q, want the code masked", raw.Text)
		}

		if err := st.RecordAttempts(ctx, []message.Attempt{{MessageID: m.ID, Provider: "sandbox", Status: message.Sent,
			ProviderMessageID: "sb-1", At: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		if err := st.StoreEvents(ctx, "sandbox", []message.Event{{ID: "dlr-1", Report: &message.Report{ProviderMessageID: "sb-1",
			Status: message.Delivered, At: time.Now()}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Prune(ctx, retention.Policy{}); err != nil {
			t.Fatal(err)
		}
		raw = readRaw(t, st, m.ID)
		if raw.Text != "Your verification code is ******" || raw.SealedText != nil {
			t.Errorf("stored once delivered: text %q, sealed_text %v; want the masked text only", raw.Text, raw.SealedText)
		}
		got, err := st.GetMessage(ctx, acc.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if text, err := st.MessageText(got); err != nil || text != "Your verification code is ******" {
			t.Errorf("MessageText = %q, %v; want the masked text", text, err)
		}

		if ok, err := svc.VerifyOTP(ctx, acc.ID, "+959123456789", code[1]); !ok || err != nil {
			t.Fatalf("VerifyOTP with the code sent = %v, %v; want true", ok, err)
		}
	})
}
