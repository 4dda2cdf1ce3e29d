package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
)

// GetMessages returns those of ids that are the account's messages, in no
// particular order; unknown ids are left out.
func (s *Store) GetMessages(ctx context.Context, accountID string, ids []string) ([]Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []Message
	// Without the status history, which only the detail shows.
	if err := s.db.WithContext(ctx).Omit(historyColumn).Where("account_id = ? AND id IN ?", accountID, ids).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("get %d messages: %w", len(ids), err)
	}
	return out, nil
}

// MessageFilter selects messages to list. Every filter narrows the
// account's messages (read through its account_id index); none needs an
// index of its own, which would cost every accepted message a write.
type MessageFilter struct {
	Status string
	// Since keeps messages created at or after it, Until those created
	// before it; zero keeps all.
	Since, Until time.Time
	// Provider, Route, Recipient and Kind keep the messages with that
	// value; "" keeps all.
	Provider  string
	Route     string
	Recipient string
	Kind      message.Kind
	// Limit caps the page; at most 500.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
	// Through, a cursor, ends the listing at the message it names
	// (included): an export bounded before it starts.
	Through string
}

// ErrBadCursor means a cursor was not one ListMessages returned.
var ErrBadCursor = account.ErrBadCursor

// ListMessages returns a page of the account's messages, newest first, and
// the cursor of the next page ("" after the last). Paging by (created_at,
// id) rather than an offset keeps pages stable while messages arrive.
func (s *Store) ListMessages(ctx context.Context, accountID string, f MessageFilter) ([]Message, string, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		return nil, "", fmt.Errorf("list messages: limit %d is not within 1..500", f.Limit)
	}
	q, err := s.filtered(ctx, accountID, f)
	if err != nil {
		return nil, "", err
	}
	var out []Message
	// Without the status history, which only the detail shows.
	if err := q.Omit(historyColumn).Order("created_at DESC, id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, "", fmt.Errorf("list messages: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

// ListEnd returns the cursor of the max-th message f lists when more
// follow it, "" when f lists at most max: where an export of at most max
// messages ends and the next begins.
func (s *Store) ListEnd(ctx context.Context, accountID string, f MessageFilter, max int) (string, error) {
	q, err := s.filtered(ctx, accountID, f)
	if err != nil {
		return "", err
	}
	var ends []struct {
		ID        string
		CreatedAt time.Time
	}
	if err := q.Model(&Message{}).Select("id", "created_at").Order("created_at DESC, id DESC").
		Offset(max - 1).Limit(2).Find(&ends).Error; err != nil {
		return "", fmt.Errorf("find the end of a message export: %w", err)
	}
	if len(ends) < 2 {
		return "", nil
	}
	return encodeCursor(ends[0].CreatedAt, ends[0].ID), nil
}

// filtered is the query of the account's messages f selects.
func (s *Store) filtered(ctx context.Context, accountID string, f MessageFilter) (*gorm.DB, error) {
	q := s.db.WithContext(ctx).Where("account_id = ?", accountID)
	for _, eq := range []struct{ column, value string }{
		{"status", f.Status}, {"provider", f.Provider}, {"route", f.Route}, {"recipient", f.Recipient}, {"kind", string(f.Kind)},
	} {
		if eq.value != "" {
			q = q.Where(eq.column+" = ?", eq.value)
		}
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		// Row comparisons, not "created_at < ? OR (created_at = ? AND id
		// < ?)": PostgreSQL turns only the row form into an index bound,
		// so a page deep in a large account stays an index range.
		q = q.Where("(created_at, id) < (?, ?)", at, id)
	}
	if f.Through != "" {
		at, id, err := decodeCursor(f.Through)
		if err != nil {
			return nil, err
		}
		q = q.Where("(created_at, id) >= (?, ?)", at, id)
	}
	return q, nil
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UTC().UnixNano(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", ErrBadCursor
	}
	ns, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return time.Time{}, "", ErrBadCursor
	}
	return time.Unix(0, n).UTC(), id, nil
}
