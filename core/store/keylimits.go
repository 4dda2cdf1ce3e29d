package store

import (
	"context"
	"fmt"

	"github.com/smsrouter/smsrouter/core/account"
)

// SetAPIKeySMSPerMinute sets the key's own send rate limit (0 restores the
// configured one) and returns the key.
func (s *Store) SetAPIKeySMSPerMinute(ctx context.Context, id string, n int) (account.APIKey, error) {
	db := s.db.WithContext(ctx)
	res := db.Model(&APIKey{}).Where("id = ?", id).Update("sms_per_minute", n)
	if res.Error != nil {
		return account.APIKey{}, fmt.Errorf("set rate limit of API key %s: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return account.APIKey{}, fmt.Errorf("set rate limit of API key %s: %w", id, ErrNotFound)
	}
	s.keyChanged(ctx, id)
	var k APIKey
	if err := db.Where("id = ?", id).Take(&k).Error; err != nil {
		return account.APIKey{}, fmt.Errorf("read API key %s: %w", id, err)
	}
	return k.domain(), nil
}
