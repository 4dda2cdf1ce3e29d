package storetest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/smsrouter/smsrouter/core/seal"
	"github.com/smsrouter/smsrouter/core/store"
)

// LoadDump loads the SQL dump at path (sqlite3's .dump, or pg_dump's
// without schema names) into a fresh database of driver, dropped when the
// test ends, and returns its DSN for store.Open: a database as an earlier
// release left it, for tests of upgrading in place.
func LoadDump(t testing.TB, driver, path string) string {
	t.Helper()
	dump, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	var dsn string
	var dialector gorm.Dialector
	switch driver {
	case store.DriverSQLite:
		dsn = filepath.Join(t.TempDir(), "smsrouter.db")
		dialector = sqlite.Open(dsn)
	case store.DriverPostgres:
		dsn = postgresSchema(t)
		dialector = postgres.Open(dsn)
	default:
		t.Fatalf("storetest: unknown driver %q (want one of %v)", driver, Drivers())
	}
	db, err := gorm.Open(dialector, &gorm.Config{Logger: gormlogger.Discard})
	if err != nil {
		t.Fatalf("storetest: open the %s database to load %s: %v", driver, path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	defer sqlDB.Close()
	// Without arguments both drivers run every statement of the text; the
	// dump has no placeholders for gorm to fill.
	if _, err := sqlDB.Exec(string(dump)); err != nil {
		t.Fatalf("storetest: load %s into the %s database: %v", path, driver, err)
	}
	return dsn
}

// UpgradeFixtureKey is the sealing key of the previous release's database
// in core/store/testdata/upgrade-fbcf146 (its texts and webhook secret); a
// test key, not a secret.
const UpgradeFixtureKey = "c21zcm91dGVyLXVwZ3JhZGUtZml4dHVyZS1rZXktMDE="

// KeysFrom returns a ring of the one key written as text (seal.ParseKey),
// to open a database whose texts that key sealed.
func KeysFrom(t testing.TB, text string) *seal.Ring {
	t.Helper()
	k, err := seal.ParseKey(text)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	r, err := seal.NewRing(k)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return r
}
