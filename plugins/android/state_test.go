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
