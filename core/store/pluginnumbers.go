package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/numbers"
)

// ReconcilePluginNumbers makes the inventory's plugin-reported numbers of
// provider the ones it lists now (ns, each with Provider set and Source
// numbers.SourcePlugin): new ones are added, ones it had stopped listing
// and lists again are made available, and ones it no longer lists are
// retired while free. A number someone holds keeps its lease: it is
// retired by a later round, once the lease and quarantine ended.
func (s *Store) ReconcilePluginNumbers(ctx context.Context, provider string, ns []numbers.Number) (numbers.Reconciled, error) {
	var r numbers.Reconciled
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		mine := func() *gorm.DB {
			return tx.Model(&PhoneNumber{}).Where("provider = ? AND source = ?", provider, string(numbers.SourcePlugin))
		}
		listed := make([]string, 0, len(ns))
		for _, n := range ns {
			listed = append(listed, n.E164)
			row := phoneNumberRow(n, now)
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if res.Error != nil {
				return fmt.Errorf("number %s: %w", n.E164, res.Error)
			}
			r.Added += int(res.RowsAffected)
			if res.RowsAffected == 0 {
				back := mine().Where("e164 = ? AND state = ?", n.E164, string(numbers.Retired)).
					Updates(map[string]any{"state": string(numbers.Available), "updated_at": now})
				if back.Error != nil {
					return fmt.Errorf("number %s listed again: %w", n.E164, back.Error)
				}
				r.Restored += int(back.RowsAffected)
			}
			if err := ensureOperator(tx, n.Country, n.Operator); err != nil {
				return err
			}
		}
		gone := mine().Where("state = ?", string(numbers.Available))
		if len(listed) > 0 {
			gone = gone.Where("e164 NOT IN ?", listed)
		}
		res := gone.Updates(map[string]any{"state": string(numbers.Retired), "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("retire numbers no longer listed: %w", res.Error)
		}
		r.Retired = int(res.RowsAffected)
		return nil
	})
	if err != nil {
		return numbers.Reconciled{}, fmt.Errorf("numbers of provider %s into the inventory: %w", provider, err)
	}
	return r, nil
}
