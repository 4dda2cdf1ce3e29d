package sandbox_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestOutboxKeepsTheLatestMessages checks the outbox ring: newest first,
// bounded by outbox_size, a repeat kept once, the sender used shown.
func TestOutboxKeepsTheLatestMessages(t *testing.T) {
	tests := []struct {
		name     string
		settings string
		sends    int
		limit    int
		want     []string // message ids, newest first
	}{
		{"default keeps them all", `{"dlr_delay":"1h"}`, 3, 0, []string{"msg_2", "msg_1", "msg_0"}},
		{"limit", `{"dlr_delay":"1h"}`, 3, 2, []string{"msg_2", "msg_1"}},
		{"ring drops the oldest", `{"dlr_delay":"1h","outbox_size":2}`, 5, 0, []string{"msg_4", "msg_3"}},
		{"size 0 keeps none", `{"dlr_delay":"1h","outbox_size":0}`, 2, 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := configured(t, tt.settings)
			for i := range tt.sends {
				m := sdk.Message{ID: fmt.Sprintf("msg_%d", i), To: "+959123456789", Text: fmt.Sprintf("code %06d", i), Kind: "otp", Segments: 1}
				for range 2 { // the second is a repeat: kept once
					if res, err := p.Send(t.Context(), []sdk.Message{m}); err != nil || res[0].Outcome != sdk.Accepted || res[0].Sender != "SANDBOX" {
						t.Fatalf("Send = %+v, %v; want accepted with sender SANDBOX", res, err)
					}
				}
			}
			got, err := p.Outbox(t.Context(), tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, m := range got {
				ids = append(ids, m.MessageID)
				if m.From != "SANDBOX" || m.To != "+959123456789" || m.Kind != "otp" || m.ProviderMessageID == "" || m.SentAt.IsZero() {
					t.Errorf("outbox message %+v: want sender SANDBOX, the destination, kind and provider id", m)
				}
			}
			if !reflect.DeepEqual(ids, tt.want) {
				t.Errorf("outbox = %v, want %v", ids, tt.want)
			}
		})
	}
	t.Run("the message's own sender", func(t *testing.T) {
		p := configured(t, `{"dlr_delay":"1h"}`)
		res, err := p.Send(t.Context(), []sdk.Message{{ID: "msg_x", To: "+959123456789", From: "MyShop", Text: "hi", Segments: 1}})
		if err != nil || res[0].Sender != "" {
			t.Fatalf("Send = %+v, %v; want no Sender when the message has its own", res, err)
		}
		if got, _ := p.Outbox(t.Context(), 1); len(got) != 1 || got[0].From != "MyShop" {
			t.Errorf("outbox = %+v, want from MyShop", got)
		}
	})
	t.Run("outbox_size out of range", func(t *testing.T) {
		p := sandbox.New()
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		if err := p.Configure(t.Context(), sdk.Config{Name: "x", Settings: []byte(`{"outbox_size":10001}`)}); err == nil {
			t.Error("outbox_size 10001 accepted")
		}
	})
}
