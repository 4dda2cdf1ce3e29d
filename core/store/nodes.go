package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Node is one server process sharing the database, as last heard from.
// Sending nodes (role "all") share the providers' tps and concurrency
// limits: each takes its part of them, so the limits hold for the cluster.
type Node struct {
	ID      string    `gorm:"primaryKey;size:64"`
	Sending bool      `gorm:"not null"`
	SeenAt  time.Time `gorm:"not null;index"`
}

// Heartbeat records that node id is alive now and returns how many sending
// nodes were heard from within ttl, this one included when it sends (at
// least 1, so that a lone node keeps its whole limits). Rows of nodes not
// heard from for ten ttls are removed: a node that comes back writes its
// row again.
func (s *Store) Heartbeat(ctx context.Context, id string, sending bool, ttl time.Duration) (int, error) {
	now := s.now()
	db := s.db.WithContext(ctx)
	err := db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"sending", "seen_at"}),
	}).Create(&Node{ID: id, Sending: sending, SeenAt: now}).Error
	if err != nil {
		return 0, fmt.Errorf("record heartbeat of node %s: %w", id, err)
	}
	if err := db.Where("seen_at < ?", now.Add(-10*ttl)).Delete(&Node{}).Error; err != nil {
		return 0, fmt.Errorf("remove nodes not heard from: %w", err)
	}
	var n int64
	if err := db.Model(&Node{}).Where("sending = ? AND seen_at >= ?", true, now.Add(-ttl)).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count live sending nodes: %w", err)
	}
	return max(int(n), 1), nil
}

// LeaveCluster removes node id's row, so that the others take its share of
// the limits at their next heartbeat instead of after the ttl.
func (s *Store) LeaveCluster(ctx context.Context, id string) error {
	if err := s.db.WithContext(ctx).Delete(&Node{ID: id}).Error; err != nil {
		return fmt.Errorf("remove node %s: %w", id, err)
	}
	return nil
}
