package store

import (
	"context"
	"fmt"
	"time"
)

func init() {
	RegisterModels(&RateWindow{})
}

// RateWindow counts the requests of one rate-limited subject (an API key, a
// phone number) in its current fixed window. Keeping the count in the
// database makes the limit hold across every server sharing it.
type RateWindow struct {
	Bucket string `gorm:"primaryKey;size:191"`
	// WindowStart is the window's start in Unix milliseconds; an integer so
	// that both drivers compare it exactly.
	WindowStart int64 `gorm:"not null"`
	Count       int   `gorm:"not null"`
}

// TakeRate counts one request of bucket against limit per window, in the
// fixed window now falls in. It returns ok=false, and how long until the
// window ends, when the limit is already reached; a refused request is not
// counted. One statement does it, so concurrent servers cannot both take the
// last unit.
func (s *Store) TakeRate(ctx context.Context, bucket string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	if limit <= 0 || window <= 0 {
		return true, 0, nil
	}
	now := s.now()
	w := window.Milliseconds()
	start := now.UnixMilli() / w * w
	var counts []int
	err = s.db.WithContext(ctx).Raw(`INSERT INTO rate_windows (bucket, window_start, count) VALUES (?, ?, 1)
ON CONFLICT (bucket) DO UPDATE SET
  count = CASE WHEN rate_windows.window_start = excluded.window_start THEN rate_windows.count + 1 ELSE 1 END,
  window_start = excluded.window_start
WHERE rate_windows.window_start <> excluded.window_start OR rate_windows.count < ?
RETURNING count`, bucket, start, limit).Scan(&counts).Error
	if err != nil {
		return false, 0, fmt.Errorf("count request against rate limit %s: %w", bucket, err)
	}
	if len(counts) > 0 {
		return true, 0, nil
	}
	return false, time.UnixMilli(start + w).Sub(now), nil
}
