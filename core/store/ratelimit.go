package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/account"
)

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
// counted. Concurrent calls share one transaction (one commit for many
// requests, as Batcher does for acceptances), and each bucket's row is
// locked while its count is decided, so servers sharing the database
// cannot both take the last unit.
func (s *Store) TakeRate(ctx context.Context, bucket string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	if limit <= 0 || window <= 0 {
		return true, 0, nil
	}
	s.rateOnce.Do(func() {
		s.rates = &groupCommit[rateTake]{
			o:         BatcherOptions{MaxBatch: 512, Workers: 2},
			weight:    func(rateTake) int { return 1 },
			maxWeight: 512,
			commit:    s.takeRates,
			ping:      s.Ping,
			log:       s.log,
			alone: func(ctx context.Context, t rateTake) error {
				res, err := s.takeRates(ctx, []rateTake{t})
				if err != nil {
					return err
				}
				return res[0]
			},
		}
		if s.driver == DriverSQLite {
			s.rates.o.Workers = 1
		}
		s.rates.start()
	})
	err = s.rates.do(ctx, rateTake{bucket: bucket, limit: limit, window: window})
	var limited *account.RateLimitError
	switch {
	case err == nil:
		return true, 0, nil
	case errors.As(err, &limited):
		return false, limited.RetryAfter, nil
	}
	return false, 0, fmt.Errorf("count request against rate limit %s: %w", bucket, err)
}

// rateTake is one request counted against a bucket's limit.
type rateTake struct {
	bucket string
	limit  int
	window time.Duration
}

// takeRates counts takes, in order, in one transaction: results[i] is nil
// for a counted take and a *account.RateLimitError for a refused one. Takes of one
// bucket are decided together: one row lock and one update per bucket.
func (s *Store) takeRates(ctx context.Context, takes []rateTake) (results []error, err error) {
	now := s.now()
	results = make([]error, len(takes))
	byBucket := map[string][]int{}
	for i, t := range takes {
		byBucket[t.bucket] = append(byBucket[t.bucket], i)
	}
	buckets := slices.Sorted(maps.Keys(byBucket)) // one lock order for every batch
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			// Losing the last counts in a database crash lets a few extra
			// requests through; waiting for the disk is not worth that.
			if err := tx.Exec("SET LOCAL synchronous_commit TO OFF").Error; err != nil {
				return err
			}
		}
		rows := make([]RateWindow, len(buckets))
		for i, b := range buckets {
			rows[i] = RateWindow{Bucket: b}
		}
		// Every bucket gets its row first, so the locking read below sees
		// (and locks) all of them, even ones another server creates now.
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
			return err
		}
		q := tx.Where("bucket IN ?", buckets).Order("bucket")
		if s.driver == DriverPostgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var current []RateWindow
		if err := q.Find(&current).Error; err != nil {
			return err
		}
		for _, w := range current {
			idx := byBucket[w.Bucket]
			first := takes[idx[0]]
			ms := first.window.Milliseconds()
			start := now.UnixMilli() / ms * ms
			count := w.Count
			if w.WindowStart != start {
				count = 0
			}
			taken := 0
			for _, i := range idx {
				if count+taken >= takes[i].limit {
					results[i] = &account.RateLimitError{Limit: takes[i].limit, Window: takes[i].window,
						RetryAfter: time.UnixMilli(start + ms).Sub(now)}
					continue
				}
				taken++
			}
			if taken == 0 && w.WindowStart == start {
				continue
			}
			if err := tx.Model(&RateWindow{}).Where("bucket = ?", w.Bucket).
				Updates(map[string]any{"window_start": start, "count": count + taken}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}
