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
		&WebhookHolder{},

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
	{"index the webhook queue by a generated column", func(_ *Store, db *gorm.DB) error { return addClaimableColumn(db) }},
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
// by the partial idx_messages_sent_ref; the webhook queue index whose
// condition read state, replaced by idx_webhook_deliveries_claimable; the
// index of a message's deliveries by state, replaced by
// idx_webhook_deliveries_by_message)
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
		"idx_phone_numbers_pick", "idx_webhook_deliveries_finished", "idx_messages_queue", "idx_messages_provider_ref",
		"idx_webhook_deliveries_queue", "idx_webhook_deliveries_message"} {
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
// A webhook delivery is written once more, recorded delivered, in a batch
// with the deliveries inserted next to it: half of each page is left free
// so that every one of them fits in its page (HOT), where 70% kept only
// the first few of each page there (docs/performance.md, issue 20, webhook
// rows updated in place).
var queueTables = []struct{ name, fillfactor string }{
	{"messages", "70"},
	{"webhook_deliveries", "50"},
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
	return addIndexedFlag(db, "messages", "queued", "status IN ('queued', 'pending')", "idx_messages_queued", "next_attempt_at")
}

// addIndexedFlag adds to table the generated boolean column flag, computed
// as expr (stored on PostgreSQL, virtual on SQLite), and the partial index
// index on columns of the rows where it is true.
func addIndexedFlag(db *gorm.DB, table, flag, expr, index, columns string) error {
	has, err := hasColumn(db, table, flag)
	if err != nil {
		return err
	}
	if !has {
		kind := "VIRTUAL"
		if db.Dialector.Name() == DriverPostgres {
			kind = "STORED"
		}
		if err := db.Exec("ALTER TABLE " + table + " ADD COLUMN " + flag + " boolean GENERATED ALWAYS AS (" + expr + ") " + kind).Error; err != nil {
			return fmt.Errorf("add the column %s: %w", flag, err)
		}
	}
	if err := db.Exec("CREATE INDEX IF NOT EXISTS " + index + " ON " + table + " (" + columns + ") WHERE " + flag).Error; err != nil {
		return fmt.Errorf("create %s: %w", index, err)
	}
	return nil
}

// hasColumn reports whether table has column, generated ones included.
// gorm's HasColumn does not do for SQLite, whose table_info leaves
// generated columns out and where gorm looks for the name in the table's
// SQL text.
func hasColumn(db *gorm.DB, table, column string) (bool, error) {
	q := "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?"
	args := []any{table, column}
	if db.Dialector.Name() != DriverPostgres {
		q = "SELECT count(*) FROM pragma_table_xinfo(?) WHERE name = ?"
	}
	var n int64
	if err := db.Raw(q, args...).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("look for the column %s of %s: %w", column, table, err)
	}
	return n > 0, nil
}

// addClaimableColumn adds to webhook_deliveries the generated column
// claimable (pending and not handed over at its insert) and the queue's
// index on it, idx_webhook_deliveries_claimable, as addQueuedColumn does
// for messages. The index's condition read state before: recording a
// delivery delivered then wrote an entry into every index of the table
// and copied the row to another page. Now a delivery handed over at its
// insert is never in the queue index (claimable is false from its insert
// to its end), its record changes no indexed value, and PostgreSQL
// updates it in place. Deliveries of an earlier version, leased or not,
// are claimable (handed is false): claims find them, expired leases
// included, as before.
func addClaimableColumn(db *gorm.DB) error {
	return addIndexedFlag(db, "webhook_deliveries", "claimable", "state = 'pending' AND NOT handed", "idx_webhook_deliveries_claimable",
		"next_attempt_at, seq")
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
