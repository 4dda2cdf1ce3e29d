package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
)

// GetMessages returns those of ids that are the account's messages, in no
// particular order; unknown ids are left out.
func (s *Store) GetMessages(ctx context.Context, accountID string, ids []string) ([]Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []Message
	if err := s.db.WithContext(ctx).Where("account_id = ? AND id IN ?", accountID, ids).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("get %d messages: %w", len(ids), err)
	}
	return out, nil
}

// MessageFilter selects messages to list.
type MessageFilter struct {
	Status string
	// Since keeps messages created at or after it; zero keeps all.
	Since time.Time
	// Limit caps the page; at most 500.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
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
	q := s.db.WithContext(ctx).Where("account_id = ?", accountID)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", at, at, id)
	}
	var out []Message
	if err := q.Order("created_at DESC, id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
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
