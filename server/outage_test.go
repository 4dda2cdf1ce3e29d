package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

// staticKeys authenticates one key without the database, so that a test
// of a database outage reaches the handlers behind the key check.
type staticKeys struct{ key account.APIKey }

const outageKey = "api_live_outage"

func (k staticKeys) Authenticate(_ context.Context, raw string) (account.APIKey, error) {
	if raw != outageKey {
		return account.APIKey{}, account.ErrUnauthorized
	}
	return k.key, nil
}

// outageAPI serves the API on st with the key check and the send limit out
// of the database's way; accepter nil stores each send in a transaction of
// its own.
func outageAPI(t *testing.T, st *store.Store, accepter core.Accepter) *apiEnv {
	t.Helper()
	cfg, err := config.Parse([]byte(apiConfig), "api.hcl", config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := st.CreateAccount(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	svc := core.NewService(st, routing.NewRouter(cfg.Table, nil), nil, core.Options{Accepter: accepter})
	ts := httptest.NewServer(server.New(server.Options{Messages: svc, Accounts: svc, API: &config.API{},
		Keys: staticKeys{account.APIKey{ID: "key_outage", AccountID: acc.ID, Permissions: account.PermSendSMS}}}))
	t.Cleanup(ts.Close)
	return &apiEnv{url: ts.URL, st: st, acc: acc.ID, keys: map[string]string{"sms": outageKey}}
}

// expectUnavailable checks a 503 with Retry-After.
func expectUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	if a.code != 503 || a.header.Get("Retry-After") == "" || a.body["error"] == nil {
		t.Errorf("%s: HTTP %d (Retry-After %q) %s, want 503 with Retry-After", what, a.code, a.header.Get("Retry-After"), a.raw)
	}
}

// TestDatabaseGoneAnswers503: with the database gone (the store closed
// under the server), requests answer 503 with Retry-After, never 500;
// /ready says so and /up, the liveness check, still answers 200.
func TestDatabaseGoneAnswers503(t *testing.T) {
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "smsrouter.db")
			if driver == store.DriverPostgres {
				dsn = storetest.PostgresDSN(t)
			}
			st := openOn(t, store.Options{Driver: driver, DSN: dsn})
			e := outageAPI(t, st, nil)
			if a := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+959123456789","message":"before"}`); a.code != 202 {
				t.Fatalf("send before the outage: HTTP %d %s", a.code, a.raw)
			}
			if a := e.call(t, "GET", "/ready", "", ""); a.code != 200 {
				t.Fatalf("/ready before the outage: HTTP %d %s", a.code, a.raw)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			expectUnavailable(t, "send", e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+959123456789","message":"during"}`))
			expectUnavailable(t, "bulk", e.call(t, "POST", "/api/v1/sms/bulk", "sms", `{"to":["+959123456789"],"message":"during"}`))
			expectUnavailable(t, "status", e.call(t, "GET", "/api/v1/sms/status/msg_1", "sms", ""))
			expectUnavailable(t, "/ready", e.call(t, "GET", "/ready", "", ""))
			if a := e.call(t, "GET", "/up", "", ""); a.code != 200 {
				t.Errorf("/up during the outage: HTTP %d %s, want 200 (liveness)", a.code, a.raw)
			}
		})
	}
}

// TestSendCutMidTransaction: PostgreSQL terminates a send's connection
// while its transaction is open (pg_terminate_backend, as a failover or an
// operator does). Stored on its own, the send answers 503 with Retry-After.
// Two sends in one shared commit, as serve runs them, are stored again in
// halves on fresh connections (the database still answers), and both are
// accepted, once each. Either way the next send is accepted.
func TestSendCutMidTransaction(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			dsn := storetest.PostgresDSN(t)
			u, err := url.Parse(dsn)
			if err != nil {
				t.Fatal(err)
			}
			app := recordid.New("outage_")
			q := u.Query()
			q.Set("application_name", app)
			u.RawQuery = q.Encode()
			st := openOn(t, store.Options{Driver: store.DriverPostgres, DSN: u.String()})
			admin := openOn(t, store.Options{Driver: store.DriverPostgres, DSN: dsn})
			var accepter core.Accepter
			if batched {
				b := store.NewBatcher(st, store.BatcherOptions{MaxBatch: 2, Workers: 1, Linger: 3 * time.Second})
				t.Cleanup(b.Close)
				accepter = b
			}
			e := outageAPI(t, st, accepter)

			// The lock holds the send inside its transaction, at its insert.
			lock := admin.DB().Begin()
			defer lock.Rollback()
			if err := lock.Exec("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE").Error; err != nil {
				t.Fatal(err)
			}
			sends := map[bool]int{false: 1, true: 2}[batched]
			answered := make(chan answer, sends)
			for i := range sends {
				go func() {
					answered <- e.call(t, "POST", "/api/v1/sms/send", "sms", fmt.Sprintf(`{"to":"+959123456789","message":"cut %d"}`, i))
				}()
			}
			pid, err := waitingBackend(t.Context(), admin, app)
			if err != nil {
				t.Fatal(err)
			}
			if err := admin.DB().Exec("SELECT pg_terminate_backend(?)", pid).Error; err != nil {
				t.Fatal(err)
			}
			if !batched {
				expectUnavailable(t, "send cut mid-transaction", <-answered)
			}
			if err := lock.Rollback().Error; err != nil {
				t.Fatal(err)
			}
			if batched {
				for range sends {
					if a := <-answered; a.code != 202 {
						t.Errorf("batched send cut mid-transaction: HTTP %d %s, want 202 (stored again)", a.code, a.raw)
					}
				}
			}
			if a := e.call(t, "POST", "/api/v1/sms/send", "sms", `{"to":"+959123456789","message":"after"}`); a.code != 202 {
				t.Errorf("send after the cut: HTTP %d %s", a.code, a.raw)
			}
			msgs, _, err := st.ListMessages(t.Context(), e.acc, store.MessageFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 1, true: 3}[batched]; len(msgs) != want {
				t.Errorf("%d messages stored, want %d", len(msgs), want)
			}
		})
	}
}

// waitingBackend returns the server process of application app that waits
// for a lock.
func waitingBackend(ctx context.Context, admin *store.Store, app string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var pids []int
		if err := admin.DB().WithContext(ctx).Raw("SELECT pid FROM pg_stat_activity WHERE application_name = ? AND wait_event_type = 'Lock'", app).
			Scan(&pids).Error; err != nil {
			return 0, err
		}
		if len(pids) > 0 {
			return pids[0], nil
		}
		select {
		case <-ctx.Done():
			return 0, errors.New("no connection of the server waits for the lock")
		case <-tick.C:
		}
	}
}

// openOn opens a store on a prepared DSN, closed when the test ends.
func openOn(t *testing.T, o store.Options) *store.Store {
	t.Helper()
	o.Logger = storetest.Logger(t)
	st, err := store.Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
