package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Ping reports whether the database answers now: nil, or why not. It is
// the readiness check's database part.
func (s *Store) Ping(ctx context.Context) error {
	db, err := s.db.DB()
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		return fmt.Errorf("%s database does not answer: %w", s.driver, err)
	}
	return nil
}

// Unavailable reports whether err means the database could not be reached
// or dropped the connection (refused, reset, shut down, closed, out of
// connections), rather than refusing what was asked of it: the same
// request may succeed once the database is back, so the API answers 503
// with Retry-After instead of 500.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08 is "connection exception", 53 "insufficient resources"
		// (too many connections, disk full), 57P01–57P03 a server being
		// shut down or not yet accepting connections.
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "53") ||
			pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, sql.ErrConnDone), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	// database/sql's "database is closed" and pgx's "conn closed" have no
	// exported error value to compare with.
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "conn closed")
}

// Unavailable is the package's Unavailable, for callers that know the
// store only as an interface.
func (s *Store) Unavailable(err error) bool { return Unavailable(err) }
