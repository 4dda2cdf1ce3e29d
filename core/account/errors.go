package account

import "errors"

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
