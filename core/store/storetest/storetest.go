package storetest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/seal"
	"github.com/smsrouter/smsrouter/core/store"
)

// Environment variables read by this package.
const (
	EnvPostgresDSN     = "SMSROUTER_TEST_POSTGRES_DSN"
	EnvRequirePostgres = "SMSROUTER_REQUIRE_POSTGRES"
)

// Drivers lists the drivers every store test runs on.
func Drivers() []string {
	return []string{store.DriverSQLite, store.DriverPostgres}
}

// Each runs fn as one subtest per driver, each with a fresh store.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, driver := range Drivers() {
		t.Run(driver, func(t *testing.T) {
			fn(t, Open(t, driver))
		})
	}
}

// EachWith is Each with options (a clock, a logger); Driver and DSN are
// filled in per subtest.
func EachWith(t *testing.T, opts store.Options, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, driver := range Drivers() {
		t.Run(driver, func(t *testing.T) {
			o := opts
			o.Driver = driver
			fn(t, OpenWith(t, o))
		})
	}
}

// Open returns a fresh, migrated store for driver, closed (and for
// PostgreSQL, dropped) when the test ends.
func Open(t testing.TB, driver string) *store.Store {
	t.Helper()
	return OpenWith(t, store.Options{Driver: driver})
}

// OpenWith is Open with options; Driver must be set and DSN is filled in.
// A nil Logger logs to the test's output.
func OpenWith(t testing.TB, opts store.Options) *store.Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	if opts.Keys == nil {
		opts.Keys = Keys(t)
	}
	switch opts.Driver {
	case store.DriverSQLite:
		opts.DSN = filepath.Join(t.TempDir(), "smsrouter.db")
	case store.DriverPostgres:
		opts.DSN = postgresSchema(t)
	default:
		t.Fatalf("storetest: unknown driver %q (want one of %v)", opts.Driver, Drivers())
	}
	return openDSN(t, opts)
}

// Keys returns a ring of one fresh key, as a server's secret key would be,
// so that stores under test seal texts and webhook secrets.
func Keys(t testing.TB) *seal.Ring {
	t.Helper()
	k, _ := seal.GenerateKey()
	r, err := seal.NewRing(k)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return r
}

// PostgresDSN returns the DSN of a fresh PostgreSQL schema of the test's
// own, dropped when the test ends, for tests that run server processes on
// it. Like every PostgreSQL test here it is skipped without
// SMSROUTER_TEST_POSTGRES_DSN, or fails if SMSROUTER_REQUIRE_POSTGRES=1.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	return postgresSchema(t)
}

// postgresSchema creates a schema of its own for the test and returns a DSN
// whose search_path points at it.
func postgresSchema(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvPostgresDSN)
	if dsn == "" {
		msg := fmt.Sprintf("PostgreSQL test skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/smsrouter_test?sslmode=disable) to run it", EnvPostgresDSN)
		if os.Getenv(EnvRequirePostgres) == "1" {
			t.Fatalf("%s is 1 but %s is not set: PostgreSQL tests cannot run", EnvRequirePostgres, EnvPostgresDSN)
		}
		t.Skip(msg)
	}
	schema := strings.Replace(recordid.New("test_"), "test_", "smsrouter_test_", 1)
	admin, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: gormlogger.Discard})
	if err != nil {
		t.Fatalf("storetest: connect to PostgreSQL from %s: %v", EnvPostgresDSN, err)
	}
	adminDB, err := admin.DB()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	adminDB.SetMaxOpenConns(1)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		_ = adminDB.Close()
		t.Fatalf("storetest: create schema %s: %v", schema, err)
	}
	// Registered before the store's Close, so it runs after it (cleanups
	// run last-in first-out): the schema is dropped once nobody uses it.
	t.Cleanup(func() {
		defer adminDB.Close()
		if err := admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error; err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

func withSearchPath(t testing.TB, dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	if strings.Contains(dsn, "search_path") {
		t.Fatalf("storetest: %s must not set search_path: each test sets its own", EnvPostgresDSN)
	}
	return dsn + " search_path=" + schema
}

// Logger returns an hclog logger writing to the test's log, which go test
// shows for failed tests (and with -v). Lines arriving after the test has
// finished are dropped rather than crashing the test binary.
func Logger(t testing.TB) hclog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	return hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Debug, Output: w})
}

type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}
