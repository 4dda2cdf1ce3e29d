package sandbox_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
)

func TestTuneChangesTheRunningSandbox(t *testing.T) {
	ctx := context.Background()
	p := configured(t, `{"failure_ratio":0.1}`)

	got, err := p.Tune(ctx, nil)
	if err != nil {
		t.Fatalf("Tune(read): %v", err)
	}
	want := map[string]string{"health": "up", "refuse_while_down": "false", "balance": "100", "failure_ratio": "0.1",
		"reject_ratio": "0", "delivery_ratio": "1", "accept_latency": "0s", "dlr_delay": "1s"}
	if !maps.Equal(got, want) {
		t.Fatalf("Tune(read) = %v, want %v", got, want)
	}

	got, err = p.Tune(ctx, map[string]string{"health": "down", "refuse_while_down": "true", "balance": "2.5",
		"failure_ratio": "0", "accept_latency": "5ms"})
	if err != nil {
		t.Fatalf("Tune: %v", err)
	}
	if got["health"] != "down" || got["balance"] != "2.5" || got["accept_latency"] != "5ms" || got["failure_ratio"] != "0" {
		t.Errorf("Tune answered %v", got)
	}
	h, _ := p.Health(ctx)
	if h.OK || !h.RefuseWhileDown {
		t.Errorf("Health after health=down, refuse_while_down=true: %+v; want down and refusing", h)
	}
	if b, _ := p.Balance(ctx); b.Amount != 2.5 {
		t.Errorf("Balance after tuning = %+v, want 2.5", b)
	}
	res, err := p.Send(ctx, []sdk.Message{{ID: "msg_1", To: "+959123456789", Text: "hi"}})
	if err != nil || len(res) != 1 || res[0].Outcome != sdk.OutcomeUnavailable {
		t.Errorf("Send while tuned down = %+v, %v; want one Unavailable result", res, err)
	}

	if _, err := p.Tune(ctx, map[string]string{"health": "up"}); err != nil {
		t.Fatal(err)
	}
	if h, _ := p.Health(ctx); !h.OK {
		t.Errorf("Health after health=up: %+v", h)
	}
	res, err = p.Send(ctx, []sdk.Message{{ID: "msg_2", To: "+959123456789", Text: "hi"}})
	if err != nil || res[0].Outcome != sdk.Accepted {
		t.Errorf("Send after health=up = %+v, %v; want accepted", res, err)
	}
}

func TestTuneRefusesBadChangesWhole(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]string
		names   string
	}{
		{"unknown", map[string]string{"speed": "9"}, `"speed"`},
		{"ratio above one", map[string]string{"failure_ratio": "1.5"}, "failure_ratio"},
		{"ratios together", map[string]string{"failure_ratio": "0.6", "reject_ratio": "0.6"}, "together"},
		{"latency", map[string]string{"accept_latency": "2h"}, "accept_latency"},
		{"health", map[string]string{"health": "sideways", "balance": "1"}, "health"},
		{"bool", map[string]string{"refuse_while_down": "maybe"}, "refuse_while_down"},
		{"balance", map[string]string{"balance": "NaN"}, "balance"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := configured(t, `{}`)
			_, err := p.Tune(context.Background(), tc.changes)
			if !errors.Is(err, sdk.ErrInvalidTune) || !strings.Contains(err.Error(), tc.names) {
				t.Fatalf("Tune(%v) error = %v, want ErrInvalidTune naming %s", tc.changes, err, tc.names)
			}
			if b, _ := p.Balance(context.Background()); b.Amount != 100 {
				t.Errorf("a refused Tune changed the balance to %v", b.Amount)
			}
		})
	}
}
