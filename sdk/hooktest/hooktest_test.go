package hooktest_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
)

func TestRecorderKeepsTheHostsRules(t *testing.T) {
	valid := sdk.Event{ID: "e1", Inbound: &sdk.InboundEvent{From: "+1555", Text: "hi"}}
	tests := []struct {
		name    string
		do      func(r *hooktest.Recorder) error
		code    int
		events  int
		breach  bool
		wantErr error
	}{
		{"emit then answer", func(r *hooktest.Recorder) error {
			err := r.Emit(valid)
			r.WriteHeader(http.StatusAccepted)
			return err
		}, http.StatusAccepted, 1, false, nil},
		{"write implies 200", func(r *hooktest.Recorder) error {
			_, err := r.Write([]byte("ok"))
			return err
		}, http.StatusOK, 0, false, nil},
		{"emit after write", func(r *hooktest.Recorder) error {
			_, _ = r.Write([]byte("ok"))
			return r.Emit(valid)
		}, http.StatusOK, 0, true, sdk.ErrResponseStarted},
		{"emit after flush", func(r *hooktest.Recorder) error {
			_ = r.Flush()
			return r.Emit(valid)
		}, http.StatusOK, 0, true, sdk.ErrResponseStarted},
		{"invalid event", func(r *hooktest.Recorder) error {
			return r.Emit(sdk.Event{ID: "no-payload"})
		}, 0, 0, true, nil},
		{"invalid status", func(r *hooktest.Recorder) error {
			r.WriteHeader(42)
			return nil
		}, http.StatusInternalServerError, 0, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hooktest.NewRecorder()
			err := tt.do(r)
			if r.Code != tt.code || len(r.Events) != tt.events || (r.Err != nil) != tt.breach {
				t.Errorf("code %d, %d events, breach %v; want %d, %d, breach %t", r.Code, len(r.Events), r.Err, tt.code, tt.events, tt.breach)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewRequestPath(t *testing.T) {
	for target, want := range map[string]string{
		"https://gw.example.com/api/v1/providers/p1/hooks/status?x=1": "/status",
		"https://gw.example.com/api/v1/providers/p1/hooks":            "/",
		"http://127.0.0.1:8080/receive":                               "/receive",
	} {
		if got := hooktest.NewRequest(http.MethodPost, target, nil).Path; got != want {
			t.Errorf("NewRequest(%q).Path = %q, want %q", target, got, want)
		}
	}
}
