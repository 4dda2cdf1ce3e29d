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
	{"index the queue by a generated column", func(_ *Store, db *gorm.DB) error { return addQueuedColumn(db) }},
	{"keep the messages awaiting a polled report apart", func(_ *Store, db *gorm.DB) error { return markAwaitingPoll(db) }},
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
// key; the queue index whose condition read status, replaced by
// idx_messages_queued; the provider id index over every message, replaced
// by the partial idx_messages_sent_ref)
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
		"idx_phone_numbers_pick", "idx_webhook_deliveries_finished", "idx_messages_queue", "idx_messages_provider_ref"} {
		if err := tx.Exec("DROP INDEX IF EXISTS " + old).Error; err != nil {
			return fmt.Errorf("drop the earlier index %s: %w", old, err)
		}
	}
	if tx.Dialector.Name() != DriverPostgres {
		return nil
	}
	for _, t := range queueTables {
		if err := tx.Exec(`ALTER TABLE ` + t.name + ` SET (fillfactor = ` + t.fillfactor + `, autovacuum_vacuum_scale_factor = 0.02,
		autovacuum_analyze_scale_factor = 0.02)`).Error; err != nil {
			return fmt.Errorf("tune the %s table: %w", t.name, err)
		}
	}
	return nil
}

// queueTables are the tables tuneQueueTable sets up, with how full an
// insert leaves a page. A message row is written whole again by its claim,
// its sent update and its report, each within seconds; more room per page
// keeps more of those updates on their page (HOT), but 40% (a third more
// HOT updates) cost more CPU per message than it saved on the SMPP chain,
// in pages read, dirtied and written (docs/performance.md, the final build).
var queueTables = []struct{ name, fillfactor string }{
	{"messages", "70"},
	{"webhook_deliveries", "70"},
}

// addQueuedColumn adds the generated column queued (status is queued or
// pending) and the queue's index on it, idx_messages_queued. The index's
// condition is this column rather than status because PostgreSQL updates a
// row in place, without new index entries (HOT), only when no column an
// index reads changes, its condition's included: with status there, every
// report (sent to delivered) wrote an entry into every index of messages,
// where queued stays false. PostgreSQL stores the column (it compares
// stored values to decide); SQLite, which cannot add a stored column to a
// table and has no HOT, computes it when read.
func addQueuedColumn(db *gorm.DB) error {
	has, err := hasQueuedColumn(db)
	if err != nil {
		return err
	}
	if !has {
		kind := "VIRTUAL"
		if db.Dialector.Name() == DriverPostgres {
			kind = "STORED"
		}
		if err := db.Exec("ALTER TABLE messages ADD COLUMN queued boolean GENERATED ALWAYS AS (status IN ('queued', 'pending')) " + kind).Error; err != nil {
			return fmt.Errorf("add the column queued: %w", err)
		}
	}
	if err := db.Exec("CREATE INDEX IF NOT EXISTS idx_messages_queued ON messages (next_attempt_at) WHERE queued").Error; err != nil {
		return fmt.Errorf("create idx_messages_queued: %w", err)
	}
	return nil
}

// hasQueuedColumn reports whether messages has the column queued. gorm's
// HasColumn does not do for SQLite, whose table_info leaves generated
// columns out and where gorm looks for the name in the table's SQL text.
func hasQueuedColumn(db *gorm.DB) (bool, error) {
	q := "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'messages' AND column_name = 'queued'"
	if db.Dialector.Name() != DriverPostgres {
		q = "SELECT count(*) FROM pragma_table_xinfo('messages') WHERE name = 'queued'"
	}
	var n int64
	if err := db.Raw(q).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("look for the column queued: %w", err)
	}
	return n > 0, nil
}

// markAwaitingPoll moves a database whose poller read
// idx_messages_awaiting_report (messages sent or unknown, by status) to
// idx_messages_awaiting_poll (messages with awaiting_report_since), once:
// every message the poller could still claim gets the column, whatever its
// provider (which providers are polled is configuration the schema does
// not know; a message no poller asks about leaves the index when it is
// final), then the old index goes.
func markAwaitingPoll(db *gorm.DB) error {
	if !db.Migrator().HasIndex("messages", "idx_messages_awaiting_report") {
		return nil
	}
	err := db.Exec(`UPDATE messages SET awaiting_report_since = sent_at
WHERE status IN ('sent', 'unknown') AND awaiting_report_since IS NULL AND sent_at IS NOT NULL
  AND NOT (poll_count > 0 AND next_poll_at IS NULL)`).Error
	if err != nil {
		return fmt.Errorf("mark the messages awaiting a report: %w", err)
	}
	if err := db.Exec("DROP INDEX IF EXISTS idx_messages_awaiting_report").Error; err != nil {
		return fmt.Errorf("drop the earlier index idx_messages_awaiting_report: %w", err)
	}
	return nil
}
