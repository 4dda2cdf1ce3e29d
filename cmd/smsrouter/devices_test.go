package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// adminFake answers the admin endpoints the devices and providers commands
// call, recording what it was asked.
func adminFake(t *testing.T) (*httptest.Server, *[]string) {
	t.Helper()
	var asked []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		asked = append(asked, r.Method+" "+r.URL.Path+" "+string(body))
		if r.Header.Get("Authorization") != "Bearer api_live_admin" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"Unauthorized"}`)
			return
		}
		switch {
		case r.Method == "GET" && r.URL.Path == "/api/v1/admin/providers":
			_, _ = io.WriteString(w, `{"providers":[{"name":"phones","devices":[{"id":"ph-1","name":"Pixel","kind":"phone","online":true,
				"last_seen":"2026-12-07T09:00:00Z","battery":80,"in_flight":2,"sent_today":17,
				"sims":[{"slot":1,"number":"+959123456789","operator":"Telenor"}]}]},{"name":"sandbox"}]}`)
		case r.Method == "DELETE" && r.URL.Path == "/api/v1/admin/providers/phones/devices/ph-1":
			_, _ = io.WriteString(w, `{"provider":"phones","device":"ph-1","revoked":true}`)
		case r.Method == "DELETE":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"no such device"}`)
		case r.Method == "POST" && r.URL.Path == "/api/v1/admin/providers/sandbox/tune":
			_, _ = io.WriteString(w, `{"provider":"sandbox","values":{"health":"down","balance":"3"}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, &asked
}

func TestCLIDevicesAndTune(t *testing.T) {
	ts, asked := adminFake(t)
	t.Setenv(outboxKeyEnv, "api_live_admin")
	tests := []struct {
		args    []string
		code    int
		stdout  []string
		stderr  []string
		request string
	}{
		{[]string{"devices", "list", "--url", ts.URL}, 0,
			[]string{"PROVIDER", "phones", "ph-1", "Pixel", "phone", "yes", "2026-12-07T09:00:00Z", "80%", "+959123456789 Telenor"}, nil,
			"GET /api/v1/admin/providers "},
		{[]string{"devices", "list", "--url", ts.URL, "--provider", "sandbox"}, 0,
			[]string{"sandbox has no phones or modem ports"}, nil, "GET /api/v1/admin/providers "},
		{[]string{"devices", "list", "--url", ts.URL, "--provider", "nope"}, 1, nil, []string{`no provider named "nope"`}, ""},
		{[]string{"devices", "revoke", "--url", ts.URL, "phones", "ph-1"}, 0, []string{"revoked device ph-1 of phones"}, nil,
			"DELETE /api/v1/admin/providers/phones/devices/ph-1 "},
		{[]string{"devices", "revoke", "--url", ts.URL, "phones", "ph-9"}, 1, nil, []string{"HTTP 404: no such device"}, ""},
		{[]string{"devices", "revoke", "--url", ts.URL, "phones"}, 1, nil, []string{"want PROVIDER and DEVICE_ID"}, ""},
		{[]string{"providers", "tune", "--url", ts.URL, "sandbox", "health=down", "balance=3"}, 0, []string{"balance=3\nhealth=down\n"}, nil,
			`POST /api/v1/admin/providers/sandbox/tune {"balance":"3","health":"down"}`},
		// Flags after the positional arguments, as the usage lines write them.
		{[]string{"providers", "tune", "sandbox", "health=down", "--url", ts.URL}, 0, []string{"health=down\n"}, nil,
			`POST /api/v1/admin/providers/sandbox/tune {"health":"down"}`},
		{[]string{"devices", "revoke", "phones", "ph-1", "--url", ts.URL}, 0, []string{"revoked device ph-1 of phones"}, nil,
			"DELETE /api/v1/admin/providers/phones/devices/ph-1 "},
		{[]string{"providers", "tune", "--url", ts.URL, "sandbox", "health"}, 1, nil, []string{`"health" is not key=value`}, ""},
		{[]string{"devices", "list", "--help"}, 0, nil, []string{"smsrouter devices list [--provider P]", "-provider"}, ""},
		{[]string{"devices", "revoke", "--help"}, 0, nil, []string{"smsrouter devices revoke PROVIDER DEVICE_ID"}, ""},
		{[]string{"providers", "tune", "--help"}, 0, nil, []string{"smsrouter providers tune NAME", "-json"}, ""},
		{[]string{"devices", "--help"}, 0, []string{"smsrouter devices list", "smsrouter devices revoke"}, nil, ""},
		{[]string{"providers", "--help"}, 0, []string{"smsrouter providers tune"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			*asked = nil
			var out, errb bytes.Buffer
			stderr := captureStderr(t, func() {
				if code := run(context.Background(), tt.args, &out, &errb); code != tt.code {
					t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errb.String())
				}
			})
			for _, s := range tt.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errb.String()+stderr, s) {
					t.Errorf("stderr lacks %q:\n%s%s", s, errb.String(), stderr)
				}
			}
			if tt.request != "" && (len(*asked) != 1 || (*asked)[0] != tt.request) {
				t.Errorf("requests %q, want [%q]", *asked, tt.request)
			}
		})
	}
}

func TestCLIDevicesListJSON(t *testing.T) {
	ts, _ := adminFake(t)
	t.Setenv(outboxKeyEnv, "api_live_admin")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"devices", "list", "--url", ts.URL, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got map[string][]map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got["phones"]) != 1 || got["phones"][0]["id"] != "ph-1" {
		t.Errorf("devices list --json = %s (%v), want phones' one device", out.String(), err)
	}
}

// captureStderr returns what fn wrote to os.Stderr, where flag usage goes.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stderr = saved }()
	fn()
	w.Close()
	os.Stderr = saved
	return <-done
}
