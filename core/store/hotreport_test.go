package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// sendAll stores n messages planned for provider, claims them and records
// them sent with provider ids prefix1…prefixN, and returns those ids.
func sendAll(t *testing.T, s *store.Store, provider, prefix string, n int) []string {
	t.Helper()
	ids := insert(t, s, newMessages(n, []string{provider}, msgStart)...)
	if got := claim(t, s, msgStart, n+1, time.Minute); len(got) != n {
		t.Fatalf("claimed %d messages, want %d", len(got), n)
	}
	pids := make([]string, n)
	results := make([]message.Attempt, n)
	for i, id := range ids {
		pids[i] = fmt.Sprintf("%s%d", prefix, i+1)
		results[i] = message.Attempt{MessageID: id, Provider: provider, Status: message.Sent, ProviderMessageID: pids[i], At: msgStart}
	}
	record(t, s, results...)
	return pids
}

// deliverAll stores a delivered report for each provider id.
func deliverAll(t *testing.T, s *store.Store, provider string, pids []string) {
	t.Helper()
	evs := make([]message.Event, len(pids))
	for i, pid := range pids {
		evs[i] = statusEvent("dlr-"+pid, pid, message.Delivered, msgStart.Add(time.Second))
	}
	storeEvents(t, s, provider, evs...)
}

// messageUpdates reads PostgreSQL's count of updated rows of the test's
// messages table, and of those updated in place (HOT).
func messageUpdates(t *testing.T, s *store.Store) (updated, hot int64) {
	return tableUpdates(t, s, "messages")
}

// tableUpdates reads PostgreSQL's count of updated rows of the test's
// table, and of those updated in place (HOT). The store must use one
// connection: statistics reach the shared counters when their backend
// flushes them, which pg_stat_force_next_flush makes it do at once.
func tableUpdates(t *testing.T, s *store.Store, table string) (updated, hot int64) {
	t.Helper()
	db := s.DB()
	if err := db.Exec("SELECT pg_stat_force_next_flush()").Error; err != nil {
		t.Fatal(err)
	}
	err := db.Raw(`SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND relname = ?`, table).Row().Scan(&updated, &hot)
	if err != nil {
		t.Fatalf("read the statistics of %s: %v", table, err)
	}
	return updated, hot
}

// Regression (issue 20): a delivery report's update of its message changed
// status, which the conditions of the queue's and the poller's indexes
// read, so PostgreSQL wrote a new entry into every index of messages for
// each receipt. Now a report on a message no poller waits for is a HOT
// update; one whose provider is polled leaves the poller's index, which
// takes new entries, and shows that the count would see them.
func TestDeliveredReportUpdatesTheMessageInPlace(t *testing.T) {
	s := storetest.OpenWith(t, store.Options{Driver: store.DriverPostgres, MaxOpenConns: 1})
	s.SetPolledProviders([]string{"poll"})
	// An update stays on its page only if the page has room, and a page
	// makes room by dropping row versions no transaction sees any more,
	// which a test on a shared server cannot count on: pages a tenth full
	// leave room for every version this test writes, so that only the
	// indexes decide.
	if err := s.DB().Exec("ALTER TABLE messages SET (fillfactor = 10)").Error; err != nil {
		t.Fatal(err)
	}
	const n = 20
	smsc := sendAll(t, s, "smsc", "s", n)
	polled := sendAll(t, s, "poll", "p", 5)

	upd0, hot0 := messageUpdates(t, s)
	deliverAll(t, s, "smsc", smsc)
	upd1, hot1 := messageUpdates(t, s)
	if upd1-upd0 != n || hot1-hot0 != n {
		t.Errorf("delivering %d messages updated %d rows, %d of them in place; want all %d in place", n, upd1-upd0, hot1-hot0, n)
	}

	deliverAll(t, s, "poll", polled)
	upd2, hot2 := messageUpdates(t, s)
	if upd2-upd1 != 5 || hot2-hot1 != 0 {
		t.Errorf("delivering 5 polled messages updated %d rows, %d in place; want 5, none in place (they leave the poller's index)",
			upd2-upd1, hot2-hot1)
	}
	counts, err := storetest.CountByStatus(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if counts[message.Delivered] != n+5 {
		t.Errorf("statuses %v, want %d delivered", counts, n+5)
	}
}

// TestPollerWaitsOnlyForPolledProviders: with the polled providers named,
// only their messages are kept for the poller, until final or given up.
func TestPollerWaitsOnlyForPolledProviders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		s.SetPolledProviders([]string{"a"})
		sentMessage(t, s, "b", "b1")
		polled := sentMessage(t, s, "a", "a1")
		if m := getMessage(t, s, polled); !sameTime(m.AwaitingReportSince, msgStart) {
			t.Errorf("awaiting_report_since = %v, want the sent time %v", m.AwaitingReportSince, msgStart)
		}
		late := msgStart.Add(time.Hour)
		if got, err := s.ClaimAwaitingReport(context.Background(), "b", late, late, 10, time.Minute); err != nil || len(got) != 0 {
			t.Errorf("claim of the unpolled provider = %v, %v; want none", got, err)
		}
		if got := claimAwaiting(t, s, late, late, 10); !slices.Equal(got, []string{polled}) {
			t.Errorf("claim = %v, want %s", got, polled)
		}
		storeEvents(t, s, "a", statusEvent("e1", "a1", message.Delivered, msgStart))
		if m := getMessage(t, s, polled); m.AwaitingReportSince != nil || m.Status != message.Delivered {
			t.Errorf("delivered message: status %s, awaiting_report_since %v; want delivered, none", m.Status, m.AwaitingReportSince)
		}
		if got := claimAwaiting(t, s, late.Add(time.Hour), late.Add(time.Hour), 10); len(got) != 0 {
			t.Errorf("claim after delivery = %v, want none", got)
		}
	})
}

// TestMigrateKeepsWaitingMessagesForThePoller: a database of an earlier
// version found messages awaiting a report by status and queued ones by a
// condition on status. Migrating keeps every message the poller could
// claim claimable, and the queue claimable, through the new indexes.
func TestMigrateKeepsWaitingMessagesForThePoller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		waiting := sentMessage(t, s, "a", "a1")
		gaveUp := sentMessage(t, s, "a", "a2")
		queued := insert(t, s, newMessages(1, []string{"a"}, msgStart)...)[0]
		db := s.DB()
		earlier := []string{
			"UPDATE messages SET awaiting_report_since = NULL",
			"UPDATE messages SET poll_count = 1, next_poll_at = NULL WHERE id = '" + gaveUp + "'",
			"CREATE INDEX idx_messages_awaiting_report ON messages (provider, sent_at) WHERE status IN ('sent', 'unknown')",
			"DROP INDEX idx_messages_queued",
			"ALTER TABLE messages DROP COLUMN queued",
			"CREATE INDEX idx_messages_queue ON messages (next_attempt_at) WHERE status IN ('queued', 'pending')",
			"DROP INDEX idx_messages_sent_ref",
			"CREATE INDEX idx_messages_provider_ref ON messages (provider_message_id, provider)",
		}
		for _, q := range earlier {
			if err := db.Exec(q).Error; err != nil {
				t.Fatalf("make the database an earlier version's (%s): %v", q, err)
			}
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		m := db.Migrator()
		for _, name := range []string{"idx_messages_awaiting_report", "idx_messages_queue", "idx_messages_provider_ref"} {
			if m.HasIndex("messages", name) {
				t.Errorf("the earlier index %s is still there after migrating", name)
			}
		}
		for _, name := range []string{"idx_messages_awaiting_poll", "idx_messages_queued", "idx_messages_sent_ref"} {
			if !m.HasIndex("messages", name) {
				t.Errorf("%s is missing after migrating", name)
			}
		}
		late := msgStart.Add(time.Hour)
		if got := claimAwaiting(t, s, late, late, 10); !slices.Equal(got, []string{waiting}) {
			t.Errorf("claim awaiting a report after migrating = %v, want %s (not the given-up %s)", got, waiting, gaveUp)
		}
		if got := claim(t, s, msgStart, 10, time.Minute); len(got) != 1 || got[0].ID != queued {
			t.Errorf("claim due after migrating = %v, want %s", ids(got), queued)
		}
		storeEvents(t, s, "a", statusEvent("e1", "a1", message.Delivered, msgStart))
		if got := getMessage(t, s, waiting); got.Status != message.Delivered {
			t.Errorf("status after its report = %s, want delivered", got.Status)
		}
	})
}

// checkPlans runs run and checks that each statement it ran with marker
// reads every one of indexes.
func checkPlans(t *testing.T, s *store.Store, captured *statements, what, marker string, indexes []string, run func() error) {
	t.Helper()
	captured.take("")
	if err := run(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	got := captured.take(marker)
	if len(got) == 0 {
		t.Fatalf("%s ran no statement with %q", what, marker)
	}
	for _, st := range got {
		p := plan(t, s, st.sql, st.vars...)
		for _, index := range indexes {
			if !strings.Contains(p, index) {
				t.Errorf("%s does not read %s:\n%s\n%s", what, index, st.sql, p)
			}
		}
	}
}

// statements records the SQL the store runs through gorm, with its
// arguments, for EXPLAIN.
type statements struct {
	mu   sync.Mutex
	list []statement
}

type statement struct {
	sql  string
	vars []any
}

func captureStatements(t *testing.T, db *gorm.DB) *statements {
	t.Helper()
	c := &statements{}
	keep := func(tx *gorm.DB) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.list = append(c.list, statement{sql: tx.Statement.SQL.String(), vars: slices.Clone(tx.Statement.Vars)})
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register("test:capture_query", keep),
		cb.Row().After("gorm:row").Register("test:capture_row", keep),
		cb.Raw().After("gorm:raw").Register("test:capture_raw", keep),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// take returns the statements recorded since the last take that contain
// marker.
func (c *statements) take(marker string) []statement {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []statement
	for _, st := range c.list {
		if strings.Contains(st.sql, marker) {
			out = append(out, st)
		}
	}
	c.list = nil
	return out
}

// plan returns the query plan of q. On PostgreSQL sequential scans are
// made to cost what they cost on a big table, so that a plan reads an
// index whenever the index can serve (its condition follows from the
// query's), however few rows a test has.
func plan(t *testing.T, s *store.Store, q string, args ...any) string {
	t.Helper()
	sqlDB, err := s.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	explain := "EXPLAIN QUERY PLAN "
	if s.Driver() == store.DriverPostgres {
		explain = "EXPLAIN "
		if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.QueryContext(ctx, explain+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	return strings.Join(planLines(t, rows), "\n")
}

func planLines(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals[len(vals)-1]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQueueAndReportReadsUseTheirIndexes: the indexes' conditions no longer
// name status, so every read of the queue, of the poller's messages and of
// a report's message must state the new condition for the planner to read
// the index. Each read the store makes is explained on both drivers.
func TestQueueAndReportReadsUseTheirIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		s.SetPolledProviders([]string{"a"})
		sentMessage(t, s, "a", "a1")
		insert(t, s, newMessages(3, []string{"a"}, msgStart)...)
		captured := captureStatements(t, s.DB())
		late := msgStart.Add(time.Hour)

		check := func(what, marker, index string, run func() error) {
			t.Helper()
			checkPlans(t, s, captured, what, marker, []string{index}, run)
		}
		check("NextDue", "queued", "idx_messages_queued", func() error { _, _, err := s.NextDue(ctx); return err })
		check("OldestDue", "queued", "idx_messages_queued", func() error { _, _, err := s.OldestDue(ctx, late); return err })
		check("QueueDepths", "queued", "idx_messages_queued", func() error { _, err := s.QueueDepths(ctx, late); return err })
		check("QueueDepth", "queued", "idx_messages_queued", func() error { _, err := s.QueueDepth(ctx, ""); return err })
		check("ClaimDue", "queued", "idx_messages_queued", func() error { _, err := s.ClaimDue(ctx, late, 10, time.Minute); return err })
		check("ClaimAwaitingReport", "awaiting_report_since", "idx_messages_awaiting_poll", func() error {
			_, err := s.ClaimAwaitingReport(ctx, "a", late, late, 10, time.Minute)
			return err
		})
		check("ApplyHeldStatuses", "held_statuses.provider_message_id", "idx_messages_sent_ref", func() error {
			_, err := s.ApplyHeldStatuses(ctx, 10)
			return err
		})
		if s.Driver() == store.DriverPostgres {
			if p := plan(t, s, store.ReportTargetsArrayQuery, "a", []string{"a1"}); !strings.Contains(p, "idx_messages_sent_ref") {
				t.Errorf("a report's message lookup does not read idx_messages_sent_ref:\n%s", p)
			}
			return
		}
		check("StoreEvents", "provider_message_id IN", "idx_messages_sent_ref", func() error {
			return s.StoreEvents(ctx, "a", []message.Event{statusEvent("e1", "a1", message.Delivered, late)})
		})
	})
}

// TestMessageUpdatesArePlannedPerBatch: the batched updates of messages
// (a round's sends, a batch of receipts) are planned with each batch's
// own arrays, never with a generic plan kept from the first runs. (The
// claim's generic plan reads the queue index even on an empty table.) A
// generic plan made while the table was small joined the arrays to a
// sequential scan of messages and was kept as the table grew: at ten
// senders the receipts' update read the whole table per batch.
func TestMessageUpdatesArePlannedPerBatch(t *testing.T) {
	// One connection, so that every statement is prepared (or not) where
	// the check below looks.
	s := storetest.OpenWith(t, store.Options{Driver: store.DriverPostgres, MaxOpenConns: 1})
	const n = 12 // PostgreSQL may choose a generic plan after five runs
	var pids []string
	for i := range n {
		pids = append(pids, sendAll(t, s, "a", fmt.Sprintf("r%d-", i), 1)...)
	}
	for _, pid := range pids {
		deliverAll(t, s, "a", []string{pid})
	}
	var generic []string
	if err := s.DB().Raw(`SELECT statement FROM pg_prepared_statements
WHERE statement LIKE 'UPDATE messages SET%FROM unnest%' AND generic_plans > 0`).Scan(&generic).Error; err != nil {
		t.Fatal(err)
	}
	for _, q := range generic {
		t.Errorf("an update of messages ran with a generic plan:\n%s", q)
	}
}
