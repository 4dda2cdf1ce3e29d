package store

import (
	"database/sql"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
)

// How a provider event is kept from applying twice. Every event's id used
// to get a row in processed_events, two index entries per delivery report.
// A report that makes its message final needs none: nothing moves a final
// message, so its event id is kept on the message (final_event_id, in the
// update that makes it final) and a replay of the event, which names the
// same provider message id, finds it there among the messages it is read
// with and is dropped whole, as the row would have dropped it. Every other
// event keeps its row:
//   - an inbound message has no message of ours to carry its id;
//   - a report no message takes yet is held (HeldStatus) and applied
//     later, possibly after its replay has arrived;
//   - a report that does not make its message final (an intermediate
//     status, or one its message refuses) leaves the message where a later
//     report moves it on, after which its replay could not be told from a
//     late report (it would leave a second history row);
//   - a report for a message of several parts: a provider that assembles
//     the parts' receipts (SMPP) may replay the last part's under that
//     part's own id, which finds no message;
//   - a report that shares its provider message id with another report of
//     the batch, since which of them makes the message final is decided
//     only as they are applied.
//
// A guarded report's id is still looked up in processed_events: the same
// event may have been held before its message was recorded, or stored by
// an earlier version. The row's unique key also kept out the second of two
// copies stored at once, one held by a transaction that did not yet see
// its message sent and one applied by a transaction that did: the held
// copy carries its event id (HeldStatus.EventID) and is used up without a
// trace when it finds its event on the message (heldCopy).

// eventClass is what storeEvents does about an event's id.
type eventClass int

const (
	// recorded: the id gets a row in processed_events; the event is new
	// when the row is.
	recorded eventClass = iota
	// guarded: a report that will make its message final; new unless a
	// row for its id exists, and its id is kept on the message.
	guarded
	// replayed: the event made a message final before; it is dropped.
	replayed
)

// freshEvent is an event storeEvents applies, with the row that remembers
// its id when the message it makes final is to remember it instead.
type freshEvent struct {
	message.Event
	guard *ProcessedEvent
}

// firstOfEach is events without repeats of an id already in them.
func firstOfEach(events []message.Event) []message.Event {
	seen := make(map[string]bool, len(events))
	out := make([]message.Event, 0, len(events))
	for _, ev := range events {
		if !seen[ev.ID] {
			seen[ev.ID] = true
			out = append(out, ev)
		}
	}
	return out
}

// reportsOf is the reports among events, for reading their messages.
func reportsOf(events []message.Event) []report {
	var out []report
	for _, ev := range events {
		if ev.Report != nil {
			out = append(out, report{Report: *ev.Report})
		}
	}
	return out
}

// freshEvents returns, in order, the events of firsts (one per id) not
// stored before, recording the ids of those that need a row (see the top
// of this file) with one insert and looking up the others with one read.
// targets are the messages of firsts' reports, as reportTargets read them.
func (s *Store) freshEvents(tx *gorm.DB, provider string, firsts []message.Event, targets map[string][]*webhookTarget, now time.Time) ([]freshEvent, error) {
	classes := s.classifyEvents(firsts, targets, now)
	var rows []ProcessedEvent
	var lookups []string
	for i, ev := range firsts {
		switch classes[i] {
		case recorded:
			rows = append(rows, eventRow(provider, ev, now))
		case guarded:
			lookups = append(lookups, ev.ID)
		}
	}
	inserted, err := recordEventIDs(tx, provider, rows, now)
	if err != nil {
		return nil, err
	}
	seen, err := seenEventIDs(tx, provider, lookups, now)
	if err != nil {
		return nil, err
	}
	var out []freshEvent
	for i, ev := range firsts {
		switch {
		case classes[i] == recorded && inserted[ev.ID]:
			out = append(out, freshEvent{Event: ev})
		case classes[i] == guarded && !seen[ev.ID]:
			row := eventRow(provider, ev, now)
			out = append(out, freshEvent{Event: ev, guard: &row})
		}
	}
	return out, nil
}

// classifyEvents tells, for each event of firsts, how its id is kept.
func (s *Store) classifyEvents(firsts []message.Event, targets map[string][]*webhookTarget, now time.Time) []eventClass {
	perRef := map[string]int{}
	for _, ev := range firsts {
		if ev.Report != nil {
			perRef[ev.Report.ProviderMessageID]++
		}
	}
	classes := make([]eventClass, len(firsts))
	for i, ev := range firsts {
		if ev.Report == nil {
			continue
		}
		cands := targets[ev.Report.ProviderMessageID]
		switch {
		case s.madeFinal(cands, ev, now):
			classes[i] = replayed
		case perRef[ev.Report.ProviderMessageID] == 1 && makesFinal(cands, *ev.Report):
			classes[i] = guarded
		}
	}
	return classes
}

// madeFinal reports whether ev is an event that made one of cands final
// and whose id still marks a repeat: within its duplicate window, or
// without one, within the retention of event ids, as its row would have.
// Every message with the report's provider message id counts, whatever
// its recipient: an event id names one event of the provider.
func (s *Store) madeFinal(cands []*webhookTarget, ev message.Event, now time.Time) bool {
	memory := ev.DuplicateWindow
	if memory <= 0 {
		memory = s.eventIDs
	}
	for _, t := range cands {
		if t.FinalEventID == nil || *t.FinalEventID != ev.ID {
			continue
		}
		if at := finalAt(&t.Message); at != nil && now.Before(at.Add(memory)) {
			return true
		}
	}
	return false
}

// finalAt is when m became final, or nil.
func finalAt(m *Message) *time.Time {
	if m.DeliveredAt != nil {
		return m.DeliveredAt
	}
	return m.FailedAt
}

// makesFinal reports whether applying r, alone of its batch for its
// provider message id, certainly makes a message of cands final: the
// message it picks awaits a final report, r is one, and the message is of
// one part.
func makesFinal(cands []*webhookTarget, r message.Report) bool {
	if !r.Status.Final() {
		return false
	}
	t := pickTarget(cands, r.Recipient)
	return t != nil && !t.Status.Final() && t.Segments <= 1
}

// eventRow is the processed_events row of ev.
func eventRow(provider string, ev message.Event, now time.Time) ProcessedEvent {
	row := ProcessedEvent{Provider: provider, EventID: ev.ID}
	if ev.DuplicateWindow > 0 {
		until := now.Add(ev.DuplicateWindow)
		row.ExpiresAt = &until
	}
	return row
}

// recordEventIDs inserts rows and returns the ids that were new, or whose
// duplicate window had passed: one statement per chunk, none for no rows.
func recordEventIDs(tx *gorm.DB, provider string, rows []ProcessedEvent, now time.Time) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	for chunk := range slices.Chunk(rows, idChunk) {
		got, err := insertEventIDs(tx, provider, chunk, now)
		if err != nil {
			return nil, fmt.Errorf("record event ids: %w", err)
		}
		for _, id := range got {
			inserted[id] = true
		}
	}
	return inserted, nil
}

// seenEventIDs returns which of ids have a row that still marks a repeat
// (the condition under which insertEventIDs would not take the id over).
// One statement per chunk, none for no ids.
func seenEventIDs(tx *gorm.DB, provider string, ids []string, now time.Time) (map[string]bool, error) {
	seen := map[string]bool{}
	for chunk := range slices.Chunk(ids, idChunk) {
		var got []string
		var err error
		if tx.Dialector.Name() == DriverPostgres {
			// One array, so every batch runs one statement text.
			got, err = scanIDs(tx.Statement.ConnPool.QueryContext(tx.Statement.Context, `SELECT event_id FROM processed_events
WHERE provider = $1 AND event_id = ANY($2::text[]) AND (expires_at IS NULL OR expires_at > $3)`, provider, chunk, now))
		} else {
			err = tx.Raw(`SELECT event_id FROM processed_events WHERE provider = ? AND event_id IN ? AND (expires_at IS NULL OR expires_at > ?)`,
				provider, chunk, now).Scan(&got).Error
		}
		if err != nil {
			return nil, fmt.Errorf("look up %d event ids: %w", len(chunk), err)
		}
		for _, id := range got {
			seen[id] = true
		}
	}
	return seen, nil
}

// scanIDs is the one text column of a query's rows.
func scanIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	var out []string
	err = scanAll(rows, func(r *sql.Rows) error {
		var id string
		if err := r.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, err
}
