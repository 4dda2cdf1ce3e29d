package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// This file is the database's schema, read top to bottom: the tables, then
// the steps that bring a database written by an earlier version up to date.
// Migrate runs both at every Open; a new table is one more line in tables.
// Table and column names are what existing databases hold: renaming a model
// field or type renames nothing in them but makes gorm add a new column.

// tables lists every table, each after the tables it refers to.
func tables() []any {
	return []any{
		// Who may send: accounts, their API keys and their credit.
		&Account{},
		&APIKey{}, // refers to accounts
		&LedgerEntry{},

		// Messages and what happened to them.
		&Message{},
		&StatusChange{},
		&ProcessedEvent{},
		&HeldStatus{},
		&InboundMessage{},

		// Numbers applications lease to receive on, and the ids of their
		// operators.
		&PhoneNumber{},
		&NumberOperator{},

		// What accepting a request remembers.
		&IdempotencyRecord{},
		&DuplicateClaim{},
		&OTPCode{},
		&RateWindow{},

		// Webhooks to applications: the endpoints, then the outbox.
		&Webhook{},
		&WebhookDelivery{},
		&WebhookAttempt{},

		// The installation itself: servers sharing the database and the
		// keys its values are sealed with.
		&Node{},
		&SealingKey{},
	}
}

// migration is a step run after the tables are created or updated. Each
// runs at every Open, so each must find nothing to do once it has done its
// work.
type migration struct {
	name string
	run  func(s *Store, db *gorm.DB) error
}

// migrations run in this order.
var migrations = []migration{
	{"drop earlier indexes and tune the queue tables", func(_ *Store, db *gorm.DB) error { return tuneQueueTable(db) }},
	{"split the admin permission of earlier API keys", (*Store).splitAdminKeys},
	{"carry the credit column over into the ledger", (*Store).carryOverCredit},
}

// migrateLockID names the PostgreSQL advisory lock that serialises
// migrations, so several servers starting together do not race to create
// the same tables.
const migrateLockID = 0x736d73726f757465 // "smsroute"

// Migrate creates or updates the tables, then runs the migrations.
func (s *Store) Migrate(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	var err error
	if s.driver == DriverPostgres {
		// PostgreSQL DDL is transactional: migrating inside the locked
		// transaction means a failed migration leaves nothing half done.
		err = db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrateLockID).Error; err != nil {
				return fmt.Errorf("take migration lock: %w", err)
			}
			return s.migrate(tx)
		})
	} else {
		err = s.migrate(db)
	}
	if err != nil {
		return fmt.Errorf("migrate %s database: %w", s.driver, err)
	}
	return nil
}

func (s *Store) migrate(db *gorm.DB) error {
	if err := db.AutoMigrate(tables()...); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := m.run(s, db); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
	}
	return nil
}

// tuneQueueTable drops the indexes of earlier versions (the queue index,
// replaced by the partial idx_messages_queue; the provider id indexes that
// led with the provider, replaced by ones that lead with the id; the
// unused unique index on webhook event ids; the (state, next_attempt_at)
// index of webhook deliveries, replaced by the partial
// idx_webhook_deliveries_finished; the indexes of processed event ids
// by age and by expiry over every row, replaced by partial ones; the
// account_id index of messages, replaced by idx_messages_account_created;
// the assignment index of numbers, replaced by the partial
// idx_phone_numbers_free and idx_phone_numbers_free_op; the partial index
// of finished webhook deliveries, idx_webhook_deliveries_finished, which
// cost each delivery an entry for the prune, now a walk of the primary
// key)
// and, on
// PostgreSQL, sets the messages
// and webhook_deliveries tables up for their life as queues: every message is updated several times
// within seconds, so free space in each page lets a claim's update stay on
// its page without new index entries (a HOT update), and autovacuum comes
// after 2% of the rows changed instead of 20%, before dead row versions
// pile up in the queue's index.
func tuneQueueTable(tx *gorm.DB) error {
	for _, old := range []string{"idx_messages_due", "idx_messages_provider_id", "idx_held_provider_id", "idx_webhook_deliveries_event_id",
		"idx_webhook_deliveries_due", "idx_processed_events_created_at", "idx_processed_events_expires_at", "idx_messages_account_id",
		"idx_phone_numbers_pick", "idx_webhook_deliveries_finished"} {
		if err := tx.Exec("DROP INDEX IF EXISTS " + old).Error; err != nil {
			return fmt.Errorf("drop the earlier index %s: %w", old, err)
		}
	}
	if tx.Dialector.Name() != DriverPostgres {
		return nil
	}
	for _, table := range []string{"messages", "webhook_deliveries"} {
		if err := tx.Exec(`ALTER TABLE ` + table + ` SET (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.02,
		autovacuum_analyze_scale_factor = 0.02)`).Error; err != nil {
			return fmt.Errorf("tune the %s table: %w", table, err)
		}
	}
	return nil
}
