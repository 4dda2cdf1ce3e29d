package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// SQLite copies its write-ahead log into the database file (a checkpoint,
// with an fsync of each) whenever a commit leaves more than
// wal_autocheckpoint pages in the log, inside that commit: on the one
// connection every write of the server waits for, a checkpoint every
// thousand pages was about a twentieth of the server's CPU on SQLite end to
// end, plus the fsyncs' wait (docs/performance.md, issue 20). A goroutine
// with a connection of its own checkpoints instead, beside the writes: a
// PASSIVE checkpoint neither waits for the writer nor makes it wait. The
// automatic checkpoint stays as a backstop, at sqliteBackstopPages, for
// when this one falls behind.
const (
	sqliteCheckpointEvery = 250 * time.Millisecond
	sqliteBackstopPages   = 16000
)

// checkpointer runs the background checkpoints of a SQLite file.
type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

// inMemory says whether a SQLite DSN names an in-memory database, which
// has no log to checkpoint and no second connection can share.
func inMemory(dsn string) bool {
	return strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// startCheckpoints opens the checkpointing connection on the file the
// store's own connection opened (dsn, with its options) and starts the
// goroutine; stopCheckpoints ends both.
func (s *Store) startCheckpoints(dsn string) error {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("open the checkpointing connection: %w", err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel, done: make(chan struct{})}
	s.checkpoints = c
	go func() {
		defer close(c.done)
		t := time.NewTicker(sqliteCheckpointEvery)
		defer t.Stop()
		failing := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			switch {
			case ctx.Err() != nil:
				return
			case err != nil && !failing:
				s.log.Warn("background checkpoint failed; SQLite checkpoints in its commits until it works again", "error", err)
			case err == nil && failing:
				s.log.Info("background checkpoints work again")
			}
			failing = err != nil
		}
	}()
	return nil
}

func (s *Store) stopCheckpoints() {
	c := s.checkpoints
	if c == nil {
		return
	}
	c.cancel()
	<-c.done
	_ = c.db.Close()
}
