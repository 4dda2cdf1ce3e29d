package store

import (
	"context"
	"fmt"
)

// SetAPIKeySMSPerMinute sets the key's own send rate limit (0 restores the
// configured one) and returns the key.
func (s *Store) SetAPIKeySMSPerMinute(ctx context.Context, id string, n int) (APIKey, error) {
	db := s.db.WithContext(ctx)
	res := db.Model(&APIKey{}).Where("id = ?", id).Update("sms_per_minute", n)
	if res.Error != nil {
		return APIKey{}, fmt.Errorf("set rate limit of API key %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return APIKey{}, fmt.Errorf("set rate limit of API key %s: %w", id, ErrNotFound)
	}
	s.keyChanged(ctx, id)
	var k APIKey
	if err := db.Where("id = ?", id).Take(&k).Error; err != nil {
		return APIKey{}, fmt.Errorf("read API key %s: %w", id, err)
	}
	return k, nil
}
