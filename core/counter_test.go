package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// countedKinds records what a core.AcceptedCounter is told.
type countedKinds struct {
	mu  sync.Mutex
	got []string
}

func (c *countedKinds) CountAccepted(kind message.Kind, segments int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, string(kind)+"/"+strings.Repeat("#", segments))
}

// TestCounterToldOfStoredMessagesOnly: every message stored as accepted,
// an OTP's included, reaches the counter with its kind and segments; a
// send the store refuses (a repeat within the duplicate window) does not.
func TestCounterToldOfStoredMessagesOnly(t *testing.T) {
	cfg, err := config.Parse([]byte(benchConfig), "counter.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		acc, err := st.CreateAccount(ctx, "counted")
		if err != nil {
			t.Fatal(err)
		}
		api := config.DefaultAPI()
		counted := &countedKinds{}
		svc := core.NewService(st, cfg.Table, nil, core.Options{API: &api, Counter: counted})
		long := strings.Repeat("x", 200) // two GSM-7 segments
		if _, err := svc.Send(ctx, acc.ID, core.SendRequest{To: "+959123456789", Message: long, Kind: "marketing"}); err != nil {
			t.Fatal(err)
		}
		_, err = svc.Send(ctx, acc.ID, core.SendRequest{To: "+959123456789", Message: long, Kind: "marketing"})
		var dup *message.DuplicateError
		if !errors.As(err, &dup) {
			t.Fatalf("repeat within the duplicate window: error %v, want a duplicate", err)
		}
		if _, err := svc.SendOTP(ctx, acc.ID, "+959123456780"); err != nil {
			t.Fatal(err)
		}
		counted.mu.Lock()
		defer counted.mu.Unlock()
		if got, want := strings.Join(counted.got, " "), "marketing/## otp/#"; got != want {
			t.Errorf("counted %q, want %q", got, want)
		}
	})
}
