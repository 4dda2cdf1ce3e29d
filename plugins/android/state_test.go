package android_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestPhonesSurviveARestart registers a phone, restarts the provider on
// the same state file, and checks the phone's token still works while the
// file holds only its hash. Regression: a restored phone's last-seen time
// was pushed out of JSON's range and the next save failed.
func TestPhonesSurviveARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phones.json")
	settings := json.RawMessage(fmt.Sprintf(`{"private_token":%q,"state_file":%q}`, privateToken, path))
	start := func() (*android.Provider, *hookHost) {
		p := android.New()
		host := newHookHost(t, p)
		if err := p.Configure(context.Background(), sdk.Config{Name: "a", Settings: settings, HookURL: host.URL()}); err != nil {
			t.Fatal(err)
		}
		return p, host
	}
	p1, host1 := start()
	ph := newTestPhone(host1.URL(), "pixel")
	if err := ph.Register(context.Background(), privateToken); err != nil {
		t.Fatal(err)
	}
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, token := ph.creds()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), token) || !strings.Contains(string(data), `"token_sha256"`) {
		t.Errorf("state file keeps the token itself or no hash:\n%s", data)
	}

	p2, host2 := start()
	ph.base = host2.URL() + "/mobile/v1"
	if _, err := ph.do(context.Background(), http.MethodPatch, "/device", token, map[string]any{}, nil); err != nil {
		t.Errorf("the phone's token after a restart: %v", err)
	}
	if phones := p2.Phones(); len(phones) != 1 || phones[0].Name != "pixel" || len(phones[0].SIMs) != 1 {
		t.Errorf("phones after a restart = %+v", phones)
	}
	// Registering again under the same name keeps the identity.
	id, _ := ph.creds()
	if err := ph.Register(context.Background(), privateToken); err != nil {
		t.Fatal(err)
	}
	if again, _ := ph.creds(); again != id || len(p2.Phones()) != 1 {
		t.Errorf("registering again gave id %s (was %s), %d phones", again, id, len(p2.Phones()))
	}
	if err := p2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestReportsAfterARestart: a phone that took a message before the server
// restarted reports its delivery after; the report is recognised (the
// journal beside the state file), one about a message never given is not.
func TestReportsAfterARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phones.json")
	settings := json.RawMessage(fmt.Sprintf(`{"private_token":%q,"state_file":%q,"keepalive":"50ms"}`, privateToken, path))
	start := func() (*android.Provider, *hookHost) {
		p := android.New()
		host := newHookHost(t, p)
		if err := p.Configure(context.Background(), sdk.Config{Name: "a", Settings: settings, HookURL: host.URL()}); err != nil {
			t.Fatal(err)
		}
		return p, host
	}
	p1, host1 := start()
	g := &gateway{p: p1, host: host1}
	ph := newTestPhone(host1.URL(), "pixel")
	ctx, cancel := context.WithCancel(context.Background())
	if err := ph.Register(ctx, privateToken); err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- ph.Run(ctx, connected) }()
	<-connected
	res, err := g.p.Send(context.Background(), []sdk.Message{msg("msg_r", "+959791234567")})
	if err != nil || res[0].Outcome != sdk.Accepted {
		t.Fatalf("send = %+v, %v", res, err)
	}
	cancel()
	<-done
	if err := p1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	p2, host2 := start()
	defer p2.Close(context.Background())
	_, token := ph.creds()
	ph.base = host2.URL() + "/mobile/v1"
	report := func(id string) {
		body := fmt.Sprintf(`[{"id":%q,"state":"Delivered","recipients":[{"phoneNumber":"+959791234567","state":"Delivered"}]}]`, id)
		var raw json.RawMessage = []byte(body)
		if _, err := ph.do(context.Background(), http.MethodPatch, "/message", token, raw, nil); err != nil {
			t.Fatal(err)
		}
	}
	report("msg_r")
	report("msg_never")
	got := eventIDs(host2.stored())
	if strings.Join(got, ",") != "msg_r/sent,msg_r/delivered" {
		t.Errorf("events after the restart = %v, want msg_r's sent and delivered only", got)
	}
}
