package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOpenSQLiteCreatesMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not", "yet", "there", "smsrouter.db")
	s, err := store.Open(context.Background(), store.Options{Driver: store.DriverSQLite, DSN: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file not created: %v", err)
	}
	if got := s.Driver(); got != store.DriverSQLite {
		t.Errorf("Driver() = %q, want %q", got, store.DriverSQLite)
	}
}

func TestOpenSQLiteDefaultPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := store.Open(context.Background(), store.Options{Driver: store.DriverSQLite})
	if err != nil {
		t.Fatalf("Open without DSN: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, "data", "smsrouter.db")); err != nil {
		t.Fatalf("default database file not created under ./data: %v", err)
	}
}

func TestOpenSQLiteSettings(t *testing.T) {
	s := storetest.Open(t, store.DriverSQLite)
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "1", // NORMAL
	} {
		var got string
		if err := s.DB().Raw("PRAGMA " + pragma).Row().Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
	var busy int
	if err := s.DB().Raw("PRAGMA busy_timeout").Row().Scan(&busy); err != nil {
		t.Fatalf("PRAGMA busy_timeout: %v", err)
	}
	if busy < 1000 {
		t.Errorf("busy_timeout = %d ms, want at least a second", busy)
	}
	sqlDB, err := s.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	if n := sqlDB.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("MaxOpenConnections = %d, want 1", n)
	}
}

// TestPostgresConnectionsRunWithoutJIT: every connection the store opens
// has JIT compilation off, however many are open at once, so that no
// query of the store pays for compiling on a table never analyzed.
func TestPostgresConnectionsRunWithoutJIT(t *testing.T) {
	s := storetest.Open(t, store.DriverPostgres)
	ctx := context.Background()
	sqlDB, err := s.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	// Holding each connection while taking the next makes the pool open
	// new ones instead of handing the same one back.
	const conns = 4
	for i := range conns {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer c.Close()
		var jit string
		if err := c.QueryRowContext(ctx, "SHOW jit").Scan(&jit); err != nil {
			t.Fatalf("connection %d: SHOW jit: %v", i, err)
		}
		if jit != "off" {
			t.Errorf("connection %d: jit = %q, want off", i, jit)
		}
	}
}

func TestOpenRejectsUnknownDriver(t *testing.T) {
	_, err := store.Open(context.Background(), store.Options{Driver: "mysql"})
	if err == nil || !strings.Contains(err.Error(), `"mysql"`) {
		t.Fatalf("Open(mysql) error = %v, want one naming the driver", err)
	}
}

func TestOpenPostgresErrorHidesPassword(t *testing.T) {
	const secret = "hunter2secret"
	for _, dsn := range []string{
		// Port 1 on loopback refuses at once: no server is needed.
		"postgres://smsrouter:" + secret + "@127.0.0.1:1/smsrouter?sslmode=disable&connect_timeout=5",
		"host=127.0.0.1 port=1 user=smsrouter password=" + secret + " dbname=smsrouter sslmode=disable connect_timeout=5",
		"postgres://smsrouter:" + secret + "@127.0.0.1:notaport/smsrouter",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := store.Open(ctx, store.Options{Driver: store.DriverPostgres, DSN: dsn})
		cancel()
		if err == nil {
			t.Fatalf("Open(%q) succeeded, want an error", dsn)
		}
		t.Logf("error: %v", err)
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the password: %v", err)
		}
		if !strings.Contains(err.Error(), "postgres") {
			t.Errorf("error does not name the driver: %v", err)
		}
	}
	if _, err := store.Open(context.Background(), store.Options{Driver: store.DriverPostgres}); err == nil {
		t.Error("Open(postgres) without DSN succeeded")
	}
}

func TestQueryLogsOmitParameters(t *testing.T) {
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			var buf syncBuffer
			log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Debug})
			s := storetest.OpenWith(t, store.Options{Driver: driver, Logger: log})
			const secret = "do-not-log-me"
			if err := s.DB().Exec("INSERT INTO no_such_table (x) VALUES (?)", secret).Error; err == nil {
				t.Fatal("insert into a missing table succeeded")
			}
			out := buf.String()
			if !strings.Contains(out, "database query failed") {
				t.Errorf("failed query not logged; log:\n%s", out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("log contains a query parameter:\n%s", out)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^msg_[0-9a-f]{24}$`)
	seen := map[string]bool{}
	for range 1000 {
		id := recordid.New("msg_")
		if !re.MatchString(id) {
			t.Fatalf("NewID = %q, want msg_ and 24 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestConcurrentUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for range 8 {
			wg.Go(func() {
				for range 5 {
					if _, _, err := s.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS}); err != nil {
						errs <- err
					}
					if _, err := s.ListAPIKeys(ctx, acc.ID); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		n, err := s.CountAPIKeys(ctx)
		if err != nil || n != 40 {
			t.Fatalf("CountAPIKeys = %d, %v; want 40", n, err)
		}
	})
}

func mustAccount(t *testing.T, s *store.Store, name string) account.Account {
	t.Helper()
	acc, err := s.CreateAccount(context.Background(), name)
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", name, err)
	}
	return acc
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// isNotFound keeps assertions short.
func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// TestMigrateDropsEarlierIndexes: a database of an earlier version has the
// provider id index that led with the provider, under which a report
// lookup on a fresh, fast-growing table read every message of that
// provider, a unique index on webhook event ids nothing reads, and indexes
// over every row where partial ones serve. Migrating drops them and adds
// their replacements.
func TestMigrateDropsEarlierIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		db := s.DB()
		earlier := []struct{ table, name, ddl string }{
			{"messages", "idx_messages_provider_id", "CREATE INDEX idx_messages_provider_id ON messages (provider, provider_message_id)"},
			{"webhook_deliveries", "idx_webhook_deliveries_event_id", "CREATE UNIQUE INDEX idx_webhook_deliveries_event_id ON webhook_deliveries (event_id)"},
			// Indexes over every row version where a partial one serves:
			// work on every report and webhook written.
			{"webhook_deliveries", "idx_webhook_deliveries_due", "CREATE INDEX idx_webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)"},
			{"processed_events", "idx_processed_events_created_at", "CREATE INDEX idx_processed_events_created_at ON processed_events (created_at)"},
			{"processed_events", "idx_processed_events_expires_at", "CREATE INDEX idx_processed_events_expires_at ON processed_events (expires_at)"},
			// The prune's index of finished deliveries: an entry per
			// delivery recorded delivered, for a reader every ten minutes.
			{"webhook_deliveries", "idx_webhook_deliveries_finished",
				"CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE state IN ('delivered', 'gave_up')"},
			// Indexes that read state: recording a delivery wrote an entry
			// into each and could not be done in place.
			{"webhook_deliveries", "idx_webhook_deliveries_queue",
				"CREATE INDEX idx_webhook_deliveries_queue ON webhook_deliveries (next_attempt_at, seq) WHERE state = 'pending'"},
			{"webhook_deliveries", "idx_webhook_deliveries_message", "CREATE INDEX idx_webhook_deliveries_message ON webhook_deliveries (message_id, state)"},
		}
		for _, e := range earlier {
			if err := db.Exec(e.ddl).Error; err != nil {
				t.Fatalf("create an earlier index: %v", err)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		m := db.Migrator()
		for _, e := range earlier {
			if m.HasIndex(e.table, e.name) {
				t.Errorf("the earlier index %s is still there after migrating", e.name)
			}
		}
		for table, name := range map[string]string{"messages": "idx_messages_sent_ref",
			"processed_events": "idx_processed_events_age", "webhook_deliveries": "idx_webhook_deliveries_claimable"} {
			if !m.HasIndex(table, name) {
				t.Fatalf("%s is missing after migrating", name)
			}
		}
		if !m.HasIndex("processed_events", "idx_processed_events_expiry") {
			t.Fatal("idx_processed_events_expiry is missing after migrating")
		}
		if !m.HasIndex("webhook_deliveries", "idx_webhook_deliveries_by_message") {
			t.Fatal("idx_webhook_deliveries_by_message is missing after migrating")
		}
		if s.Driver() != store.DriverPostgres {
			return
		}
		var def string
		if err := db.Raw("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_messages_sent_ref' AND schemaname = current_schema()").Scan(&def).Error; err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(def, "(provider_message_id, provider)") || !strings.Contains(def, "WHERE") {
			t.Errorf("idx_messages_sent_ref = %q, want it led by provider_message_id, over sent messages only", def)
		}
	})
}
