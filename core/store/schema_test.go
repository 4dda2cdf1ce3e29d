package store_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden from the schema Open creates")

// TestSchemaKeepsItsNames guards existing databases: every table and
// column Open creates is listed in testdata/schema.golden, on both drivers,
// and migrating an up-to-date database (what every restart does) changes
// none of them. A renamed model field shows up here as a new column.
func TestSchemaKeepsItsNames(t *testing.T) {
	golden := filepath.Join("testdata", "schema.golden")
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		got := describeSchema(t, s)
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if again := describeSchema(t, s); again != got {
			t.Errorf("migrating an up-to-date database changed its schema:\n%s\nto\n%s", got, again)
		}
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("read %s (run with -update to write it): %v", golden, err)
		}
		if got != string(want) {
			t.Errorf("tables and columns differ from %s (run with -update if the change is meant):\ngot:\n%s\nwant:\n%s", golden, got, want)
		}
	})
}

// describeSchema lists the database's tables with their columns, one table
// a line, both sorted by name.
func describeSchema(t *testing.T, s *store.Store) string {
	t.Helper()
	m := s.DB().Migrator()
	names, err := m.GetTables()
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, table := range names {
		if strings.HasPrefix(table, "sqlite_") {
			continue // SQLite's own bookkeeping
		}
		cols, err := m.ColumnTypes(table)
		if err != nil {
			t.Fatalf("columns of %s: %v", table, err)
		}
		colNames := make([]string, len(cols))
		for i, c := range cols {
			colNames[i] = c.Name()
		}
		slices.Sort(colNames)
		b.WriteString(table + ": " + strings.Join(colNames, " ") + "\n")
	}
	return b.String()
}
