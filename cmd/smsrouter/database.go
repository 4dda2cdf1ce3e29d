package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/store"
)

// dbUse says whether a command may create the database it opens.
type dbUse int

const (
	// dbMayCreate is for commands that set a database up: serve and keys
	// create.
	dbMayCreate dbUse = iota
	// dbMustExist is for commands that only read or change what is there
	// (keys list and revoke, the accounts commands): run from the wrong
	// directory on the default config, they would otherwise create an
	// empty database under ./data and answer from it.
	dbMustExist
)

// operatorService is core's service for commands that manage accounts and
// keys on the operator's behalf (core.Operator): nothing is routed or
// sent, so it has no planner.
func operatorService(st *store.Store) *core.Service {
	return core.NewService(st, nil, nil, core.Options{})
}

// openCommandStore opens the config's database for command (e.g. "keys
// list"), first saying on stderr which database it is.
func openCommandStore(ctx context.Context, command, cfgPath string, cfg *config.Config, use dbUse, stderr io.Writer) (*store.Store, error) {
	where := store.DescribeDatabase(cfg.Database.Driver, cfg.Database.DSN)
	if use == dbMustExist && cfg.Database.Driver == config.DriverSQLite {
		if err := sqliteExists(command, cfgPath, where); err != nil {
			return nil, err
		}
	}
	from := "config " + cfgPath
	if cfgPath == "" {
		from = "the embedded default config: ./data under the current directory"
	}
	fmt.Fprintf(stderr, "smsrouter %s: using %s database %s (%s)\n", command, cfg.Database.Driver, where, from)
	return openStore(ctx, cfg, hclog.NewNullLogger())
}

// sqliteExists refuses a missing SQLite file, saying how to find the right one.
func sqliteExists(command, cfgPath, path string) error {
	if strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil
	}
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("database %s: %w", path, err)
	case cfgPath == "":
		return fmt.Errorf("no database at %s: %q does not create one. Without --config the database is ./data/smsrouter.db under the current directory; run it from the directory the server runs in, or pass --config with the server's config file", path, command)
	}
	return fmt.Errorf("no database at %s (from --config %s): %q does not create one; check the database block of the config, or start the server once with it (smsrouter serve --config %s) to create the database", path, cfgPath, command, cfgPath)
}

// The store is every repository core uses.
var _ core.Stores = (*store.Store)(nil)
