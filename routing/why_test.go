package routing_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/routing"
)

// A decision asked to keep its Why records the chosen route, the values
// its match rule read, each candidate kept or dropped with what its filter
// read, the routes passed over and the weighted draw; without KeepWhy it
// records nothing.
func TestPlanKeepsWhy(t *testing.T) {
	src := providers("smpp", "a", "b", "c") + `
route "mm-otp" {
  match      = "country == 'MM' && kind == 'otp'"
  candidates = ["c"]
  filter     = "healthy"
}
route "mm" {
  match      = "country == 'MM'"
  candidates = ["a", "b", "c"]
  filter     = "healthy"
  strategy   = "weighted"
  weights    = { a = 70, b = 30, c = 1 }
}
route "default" {
  default    = true
  candidates = ["a"]
}
`
	r := routing.NewRouter(compile(t, src), fakeState{"c": {Healthy: false}})
	f := mm
	f.Kind, f.MessageID = "otp", "msg_why"
	if plan, err := r.Plan(t.Context(), f); err != nil || plan.Why != nil {
		t.Fatalf("without KeepWhy: why %+v (%v), want none", plan.Why, err)
	}
	f.KeepWhy = true
	plan, err := r.Plan(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	w := plan.Why
	if w == nil {
		t.Fatal("no why kept")
	}
	got, _ := json.Marshal(w)
	want := `{"route":"mm","passed":["mm-otp"],"values":{"country":"MM"},"strategy":"weighted","candidates":[` +
		`{"provider":"a","kept":true,"weight":70,"values":{"healthy":true}},` +
		`{"provider":"b","kept":true,"weight":30,"values":{"healthy":true}},` +
		`{"provider":"c","kept":false,"weight":1,"values":{"healthy":false}}],` +
		`"draw":{"key":"msg_why","key_is_message_id":true,"value":` + jsonInt(w.Draw.Value) + `,"total":100}}`
	if string(got) != want {
		t.Errorf("why\n%s\nwant\n%s", got, want)
	}
	if first := names(plan)[0]; (w.Draw.Value < 70) != (first == "a") {
		t.Errorf("draw %d put %s first", w.Draw.Value, first)
	}

	// The default route reads nothing and draws nothing.
	f.Country = "TH"
	plan, _ = r.Plan(t.Context(), f)
	if got, _ := json.Marshal(plan.Why); string(got) != `{"route":"default","strategy":"failover","candidates":[{"provider":"a","kept":true}]}` {
		t.Errorf("default route's why: %s", got)
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// A held message's Why says until when its route held it, so the
// message's detail shows the hold with the rest of the decision.
func TestWhyKeepsHold(t *testing.T) {
	table := compile(t, providers("smpp", "a")+quietMarketing+`
route "default" {
  default    = true
  candidates = ["a"]
}
`)
	at := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC) // 22:30 in Yangon
	f := mm
	f.Kind, f.KeepWhy = "marketing", true
	plan, err := routing.NewRouter(table, nil, routing.WithClock(func() time.Time { return at })).Plan(t.Context(), f)
	if err != nil || plan.Why == nil || plan.Why.Hold == nil || plan.Why.Hold.Reason != "held for quiet hours until 06:00 Asia/Yangon" {
		t.Fatalf("why %+v (%v), want the quiet hours' hold", plan.Why, err)
	}
	noon := time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC)
	plan, _ = routing.NewRouter(table, nil, routing.WithClock(func() time.Time { return noon })).Plan(t.Context(), f)
	if plan.Why == nil || plan.Why.Hold != nil {
		t.Errorf("at noon: why %+v, want no hold", plan.Why)
	}
}
