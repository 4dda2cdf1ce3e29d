package account

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound means the record asked for does not exist, or belongs to
	// another account (callers must not tell the two apart).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a record with the same identity already exists,
	// or was being created at the same moment.
	ErrConflict = errors.New("already exists")
	// ErrBadCursor means a page cursor is not one a listing returned.
	ErrBadCursor = errors.New("invalid cursor")
)

// RateLimitError means a limit was reached; RetryAfter says when the
// request can succeed again.
type RateLimitError struct {
	Limit      int
	Window     time.Duration
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("rate limit of %d per %s reached; retry in %s", e.Limit, e.Window, e.RetryAfter.Round(time.Second))
}
