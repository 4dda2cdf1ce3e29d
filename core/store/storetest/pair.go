package storetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
)

// EachPair runs fn once per driver with two stores on one database, as two
// server processes sharing it would have: tests of limits and claims that
// must hold across processes use them.
func EachPair(t *testing.T, opts store.Options, fn func(t *testing.T, a, b *store.Store)) {
	t.Helper()
	for _, driver := range Drivers() {
		t.Run(driver, func(t *testing.T) {
			o := opts
			o.Driver = driver
			if o.Logger == nil {
				o.Logger = Logger(t)
			}
			if o.Keys == nil {
				o.Keys = Keys(t) // one key for both, as servers sharing a database need
			}
			switch driver {
			case store.DriverSQLite:
				o.DSN = filepath.Join(t.TempDir(), "smsrouter.db")
			default:
				o.DSN = postgresSchema(t)
			}
			fn(t, openDSN(t, o), openDSN(t, o))
		})
	}
}

// openDSN opens a store on an already prepared DSN, closed when the test ends.
func openDSN(t testing.TB, o store.Options) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, o)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: %v", err)
		}
	})
	return s
}
