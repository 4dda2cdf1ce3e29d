package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testSecret = "whsec_test"

func sign(secret, ts string, body []byte) string {
	n, _ := strconv.ParseInt(ts, 10, 64)
	return webhook.Sign(secret, n, body)
}

func TestVerifySignature(t *testing.T) {
	now := time.Unix(1_760_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"id":"evt_1","type":"message.sent","data":{"message_id":"msg_1"}}`)
	tests := []struct {
		name      string
		signature string
		timestamp string
		body      []byte
		want      error
	}{
		{"signed by the server's signer", sign(testSecret, ts, body), ts, body, nil},
		{"two minutes old", sign(testSecret, "1759999880", body), "1759999880", body, nil},
		{"other secret", sign("whsec_other", ts, body), ts, body, errBadSignature},
		{"body changed after signing", sign(testSecret, ts, body), ts, append(bytes.Clone(body), ' '), errBadSignature},
		{"timestamp changed after signing", sign(testSecret, ts, body), "1760000001", body, errBadSignature},
		{"upper-case hex", string(bytes.ToUpper([]byte(sign(testSecret, ts, body)))), ts, body, errBadSignature},
		{"no signature", "", ts, body, errNoSignature},
		{"no timestamp", sign(testSecret, ts, body), "", body, errBadTimestamp},
		{"timestamp not a number", sign(testSecret, ts, body), "yesterday", body, errBadTimestamp},
		{"replayed an hour later", sign(testSecret, "1759996400", body), "1759996400", body, errStaleTimestamp},
		{"ten minutes ahead", sign(testSecret, "1760000600", body), "1760000600", body, errStaleTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifySignature(testSecret, tt.signature, tt.timestamp, tt.body, now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("verifySignature = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestReceiver posts a sequence of requests to the listener and checks
// each answer and what the tracker made of them.
func TestReceiver(t *testing.T) {
	track := newTracker()
	now := time.Unix(1_760_000_000, 0)
	srv := httptest.NewServer(&receiver{secret: testSecret, track: track, now: func() time.Time { return now }})
	defer srv.Close()
	ts := strconv.FormatInt(now.Unix(), 10)
	ev := func(id, typ, msg string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"type":%q,"data":{"message_id":%q}}`, id, typ, msg)
	}
	track.accept("msg_1", now.Add(-time.Second))
	steps := []struct {
		name     string
		method   string
		body     []byte
		secret   string // "" leaves the request unsigned
		wantCode int
	}{
		{"sent", http.MethodPost, ev("evt_1", "message.sent", "msg_1"), testSecret, http.StatusNoContent},
		{"delivered", http.MethodPost, ev("evt_2", "message.delivered", "msg_1"), testSecret, http.StatusNoContent},
		{"delivered retried", http.MethodPost, ev("evt_2", "message.delivered", "msg_1"), testSecret, http.StatusNoContent},
		{"delivered again under a new id", http.MethodPost, ev("evt_3", "message.delivered", "msg_1"), testSecret, http.StatusNoContent},
		{"signed with another secret", http.MethodPost, ev("evt_4", "message.failed", "msg_1"), "whsec_other", http.StatusUnauthorized},
		{"unsigned", http.MethodPost, ev("evt_5", "message.failed", "msg_1"), "", http.StatusUnauthorized},
		{"signed, not an event", http.MethodPost, []byte(`[]`), testSecret, http.StatusBadRequest},
		{"another run's message", http.MethodPost, ev("evt_6", "message.sent", "msg_old"), testSecret, http.StatusNoContent},
		{"balance", http.MethodPost, []byte(`{"id":"evt_7","type":"balance.low","data":{}}`), testSecret, http.StatusNoContent},
		{"GET", http.MethodGet, nil, "", http.StatusMethodNotAllowed},
	}
	for _, st := range steps {
		req, err := http.NewRequest(st.method, srv.URL+"/hook", bytes.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Timestamp", ts)
		if st.secret != "" {
			req.Header.Set("X-Signature", sign(st.secret, ts, st.body))
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != st.wantCode {
			t.Errorf("%s: HTTP %d, want %d", st.name, resp.StatusCode, st.wantCode)
		}
	}
	s := track.summarize()
	checks := []struct {
		name      string
		got, want int
	}{
		{"accepted", s.accepted, 1},
		{"sent", s.sent, 1},
		{"delivered", s.delivered, 1},
		{"failed", s.failed, 0},
		{"duplicates", s.duplicates, 1},
		{"repeats", s.repeats, 1},
		{"bad signatures", s.badSigs, 3},
		{"unknown messages", s.unknown, 1},
		{"other types", s.otherTypes["balance.low"], 1},
		{"never ended", s.neverEnded, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if s.check() == nil {
		t.Error("check passed a run with duplicates and bad signatures")
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"none", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p50 of 1..100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p95 of 1..100", ms(hundred...), 95, 95 * time.Millisecond},
		{"p99 of 1..100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"p0 is the min", ms(3, 9), 0, 3 * time.Millisecond},
		{"p99 of ten is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(p%v) = %s, want %s", tt.p, got, tt.want)
			}
		})
	}
}

// TestSummarizeLatencies feeds accepts and arrivals in both orders and
// checks the latencies, the never-arrived counts and the rates.
func TestSummarizeLatencies(t *testing.T) {
	t0 := time.Unix(1_760_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type msg struct {
		id                              string
		accepted, sent, delivered, fail int // ms after t0; -1: never
	}
	tests := []struct {
		name                        string
		msgs                        []msg
		wantToSent, wantToDelivered []time.Duration
		wantNeverSent, wantNeverEnd int
		wantRate                    float64
	}{
		{
			name: "all delivered",
			msgs: []msg{
				{"a", 0, 10, 100, -1},
				{"b", 100, 130, 300, -1},
				{"c", 200, 220, 1000, -1},
			},
			wantToSent:      []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond},
			wantToDelivered: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 800 * time.Millisecond},
			wantRate:        3, // three in the second from the first accept to the last delivery
		},
		{
			name: "sent before its 202 was read counts as no latency",
			msgs: []msg{
				{"a", 50, 40, 550, -1},
			},
			wantToSent:      []time.Duration{0},
			wantToDelivered: []time.Duration{500 * time.Millisecond},
			wantRate:        2,
		},
		{
			name: "failed, never sent, never ended",
			msgs: []msg{
				{"a", 0, 10, 250, -1},
				{"b", 0, -1, -1, 40},
				{"c", 0, 20, -1, -1},
				{"d", 0, -1, -1, -1},
			},
			wantToSent:      []time.Duration{10 * time.Millisecond, 20 * time.Millisecond},
			wantToDelivered: []time.Duration{250 * time.Millisecond},
			wantNeverSent:   2,
			wantNeverEnd:    2,
			wantRate:        4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			track := newTracker()
			n := 0
			post := func(id, typ string, ms int) {
				if ms >= 0 {
					n++
					track.receive(event{ID: fmt.Sprintf("evt_%d", n), Type: typ, Data: eventData{MessageID: id}}, at(ms))
				}
			}
			for i, m := range tt.msgs {
				// Every other message's events come before its accept is
				// recorded: the tracker must join them either way.
				if i%2 == 0 {
					track.accept(m.id, at(m.accepted))
				}
				post(m.id, "message.sent", m.sent)
				post(m.id, "message.delivered", m.delivered)
				post(m.id, "message.failed", m.fail)
				if i%2 == 1 {
					track.accept(m.id, at(m.accepted))
				}
			}
			s := track.summarize()
			if fmt.Sprint(s.toSent) != fmt.Sprint(tt.wantToSent) || fmt.Sprint(s.toDelivered) != fmt.Sprint(tt.wantToDelivered) {
				t.Errorf("to sent %v, to delivered %v; want %v, %v", s.toSent, s.toDelivered, tt.wantToSent, tt.wantToDelivered)
			}
			if s.neverSent != tt.wantNeverSent || s.neverEnded != tt.wantNeverEnd {
				t.Errorf("never sent %d, never ended %d; want %d, %d", s.neverSent, s.neverEnded, tt.wantNeverSent, tt.wantNeverEnd)
			}
			if s.deliveredRate != tt.wantRate {
				t.Errorf("delivered rate %v, want %v", s.deliveredRate, tt.wantRate)
			}
			ended, accepted := track.progress()
			if accepted-ended != tt.wantNeverEnd {
				t.Errorf("progress %d of %d, want %d missing", ended, accepted, tt.wantNeverEnd)
			}
		})
	}
}

func TestRates(t *testing.T) {
	t0 := time.Unix(1_760_000_000, 0)
	every := func(n int, step time.Duration, from time.Duration) []time.Time {
		out := make([]time.Time, n)
		for i := range out {
			out[i] = t0.Add(from + time.Duration(i+1)*step)
		}
		return out
	}
	tests := []struct {
		name                 string
		arrivals             []time.Time
		wantOverall, wantMid float64
	}{
		{"none", nil, 0, 0},
		{"even 100/s for 10 s", every(1000, 10*time.Millisecond, 0), 100, 100},
		// Nothing arrives in the first 2 s (ramp-up), then 100/s for 8 s:
		// overall 80/s, the middle (1 s to 9 s) 7 s at 100/s over 8 s.
		{"slow start", every(800, 10*time.Millisecond, 2*time.Second), 80, 87.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			overall, mid := rates(t0, tt.arrivals)
			if overall != tt.wantOverall || mid != tt.wantMid {
				t.Errorf("rates = %v, %v; want %v, %v", overall, mid, tt.wantOverall, tt.wantMid)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tail := " S 1 2 2 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 12 0 987654 1000 10 18446744073709551615"
	tests := []struct {
		name string
		line string
		want proc
	}{
		{"plain", "1234 (smsrouter)" + tail, proc{pid: 1234, ppid: 1, comm: "smsrouter", start: 987654, cpu: 2810 * time.Millisecond}},
		{"name with spaces and parentheses", "77 (a) b (c))" + tail, proc{pid: 77, ppid: 1, comm: "a) b (c)", start: 987654, cpu: 2810 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if err != nil || got != tt.want {
				t.Fatalf("parseStat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := parseStat([]byte("1 (x) S 1")); err == nil {
		t.Error("parseStat accepted a short line")
	}
}

func TestDescendants(t *testing.T) {
	all := map[int]proc{1: {ppid: 0}, 10: {ppid: 1}, 11: {ppid: 10}, 12: {ppid: 11}, 13: {ppid: 10}, 20: {ppid: 1}}
	got := descendants(all, []int{10})
	want := map[int]bool{11: true, 12: true, 13: true}
	if len(got) != len(want) {
		t.Fatalf("descendants = %v, want %v", got, want)
	}
	for _, pid := range got {
		if !want[pid] {
			t.Fatalf("descendants = %v, want %v", got, want)
		}
	}
}
