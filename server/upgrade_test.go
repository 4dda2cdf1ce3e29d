package server_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// upgradeFixture is a database as the release at commit fbcf146 left it
// (core/store/testdata/upgrade-fbcf146/README).
const upgradeFixture = "../core/store/testdata/upgrade-fbcf146"

// TestAPIAfterUpgrade opens the previous release's database with today's
// store and checks that GET /api/v1/sms/{id} and its webhooks listing
// answer what that release answered, for a message in every state.
func TestAPIAfterUpgrade(t *testing.T) {
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			want := readUpgradeAnswers(t, driver)
			st := openUpgradedStore(t, driver)
			e := newAPI(t, st)[0]
			raw, _, err := st.CreateAPIKey(t.Context(), "acc_messagestest", "upgrade", []string{account.PermSendSMS})
			if err != nil {
				t.Fatal(err)
			}
			e.keys["upgrade"] = raw
			for id, paths := range want {
				for path, old := range paths {
					a := e.call(t, "GET", "/api/v1/sms/"+id+path, "upgrade", "")
					if a.code != 200 {
						t.Fatalf("GET %s%s: HTTP %d %s", id, path, a.code, a.raw)
					}
					if got := canonicalJSON(t, a.raw); got != canonicalJSON(t, string(old)) {
						t.Errorf("GET %s%s after the upgrade:\ngot  %s\nwant %s", id, path, got, old)
					}
				}
			}
		})
	}
}

// openUpgradedStore opens the fixture with today's store, which migrates
// it, at a fixed time after its last write.
func openUpgradedStore(t *testing.T, driver string) *store.Store {
	t.Helper()
	dsn := storetest.LoadDump(t, driver, filepath.Join(upgradeFixture, driver+".sql"))
	at := time.Date(2026, 1, 5, 10, 10, 0, 0, time.UTC)
	st, err := store.Open(t.Context(), store.Options{Driver: driver, DSN: dsn, Keys: storetest.KeysFrom(t, storetest.UpgradeFixtureKey),
		Now: func() time.Time { return at }, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatalf("open the previous release's %s database: %v", driver, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// readUpgradeAnswers reads what the previous release answered, by message
// id and path under it.
func readUpgradeAnswers(t *testing.T, driver string) map[string]map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(upgradeFixture, "api-"+driver+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// canonicalJSON is raw re-encoded with sorted keys and no spacing.
func canonicalJSON(t *testing.T, raw string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
