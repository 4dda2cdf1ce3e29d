package store

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
)

// A message's status history lives in its own row (Message.History), one
// JSON object a line, appended in SQL by the statement that changes the
// status (or, for a report that moves nothing, by an update of the column
// alone). A row of its own per change, as status_changes was, made every
// sent and delivered message write two more rows and four index entries,
// for a history that only GET /api/v1/sms/{id} and the console read.
// Rows of status_changes that earlier versions wrote are still read and
// merged in (Store.StatusChanges); nothing new is written there.

// historyColumn is the messages column the history is appended to.
const historyColumn = "history"

// appendHistory is the update expression that appends a message's new
// lines (%s) to its history, for perMessage.expr.
const appendHistory = historyColumn + " || %s"

// historyEntry is one status change as a line of Message.History. The keys
// are short because every message carries a few of these; absent fields
// are empty.
type historyEntry struct {
	Status         message.Status `json:"s"`
	At             time.Time      `json:"t"`
	Provider       string         `json:"p,omitempty"`
	ProviderStatus string         `json:"ps,omitempty"`
	ProviderAt     *time.Time     `json:"pt,omitempty"`
	ErrorCode      string         `json:"c,omitempty"`
	Reason         string         `json:"r,omitempty"`
	// Late marks a report that could not move the message (the change's
	// Applied is false); omitted for the common case, applied.
	Late bool `json:"l,omitempty"`
}

// historyLines appends the lines of changes to b, each ending in a
// newline. Times are kept as the driver keeps a timestamp column (on
// PostgreSQL to the microsecond, as pgx truncates them), so that a change
// reads back the same time as the message's own column written with it.
func historyLines(b []byte, driver string, changes ...StatusChange) []byte {
	for _, c := range changes {
		e := historyEntry{Status: c.Status, At: storedTime(driver, c.At), Provider: c.Provider, ProviderStatus: c.ProviderStatus,
			ErrorCode: c.ErrorCode, Reason: c.Reason, Late: !c.Applied}
		if c.ProviderAt != nil {
			pa := storedTime(driver, *c.ProviderAt)
			e.ProviderAt = &pa
		}
		line, err := json.Marshal(e)
		if err != nil {
			// Strings and times always encode; a failure is a bug here.
			panic(fmt.Sprintf("encode status change of message %s: %v", c.MessageID, err))
		}
		b = append(append(b, line...), '\n')
	}
	return b
}

// storedTime is t in UTC as a timestamp column of driver keeps it.
func storedTime(driver string, t time.Time) time.Time {
	t = t.UTC()
	if driver == DriverPostgres {
		return t.Truncate(time.Microsecond)
	}
	return t
}

// parseHistory reads the changes of message id from its history column.
func parseHistory(id, history string) ([]StatusChange, error) {
	if history == "" {
		return nil, nil
	}
	var out []StatusChange
	sc := bufio.NewScanner(strings.NewReader(history))
	sc.Buffer(nil, len(history)+1)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var e historyEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("status history of message %s, line %d: %w", id, len(out)+1, err)
		}
		out = append(out, StatusChange{MessageID: id, Status: e.Status, Provider: e.Provider, ProviderStatus: e.ProviderStatus,
			ErrorCode: e.ErrorCode, Reason: e.Reason, Applied: !e.Late, At: e.At, ProviderAt: e.ProviderAt, CreatedAt: e.At})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("status history of message %s: %w", id, err)
	}
	return out, nil
}

// mergeHistory merges the rows of status_changes (in the order they were
// written) with the column's changes (likewise) by time. Rows go first on
// a tie: they were written by an earlier version, before the column.
func mergeHistory(rows, column []StatusChange) []StatusChange {
	if len(rows) == 0 {
		return column
	}
	out := make([]StatusChange, 0, len(rows)+len(column))
	for len(rows) > 0 && len(column) > 0 {
		if column[0].At.Before(rows[0].At) {
			out, column = append(out, column[0]), column[1:]
		} else {
			out, rows = append(out, rows[0]), rows[1:]
		}
	}
	return append(append(out, rows...), column...)
}

// StatusChanges returns the stored status changes of a message, oldest
// first: those of its history column and the rows of status_changes an
// earlier version wrote. The queued status a message starts in is not
// among them (its time is the message's created_at); an unknown message
// has none.
func (s *Store) StatusChanges(ctx context.Context, messageID string) ([]StatusChange, error) {
	var m Message
	err := s.db.WithContext(ctx).Select("id", historyColumn).Where("id = ?", messageID).Take(&m).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("status history of message %s: %w", messageID, err)
	}
	m.ID = messageID
	return statusChanges(s.db.WithContext(ctx), m)
}

// statusChanges is StatusChanges of the message m as read.
func statusChanges(db *gorm.DB, m Message) ([]StatusChange, error) {
	column, err := parseHistory(m.ID, m.History)
	if err != nil {
		return nil, err
	}
	var rows []StatusChange
	if err := db.Where("message_id = ?", m.ID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("status history of message %s: %w", m.ID, err)
	}
	return mergeHistory(rows, column), nil
}

// messageHistory collects the history lines of a batch's messages, each
// message's in the order its changes were made.
type messageHistory struct {
	driver string
	lines  map[string][]byte
}

func newMessageHistory(driver string) messageHistory {
	return messageHistory{driver: driver, lines: map[string][]byte{}}
}

// add appends c to its message's lines.
func (h messageHistory) add(c StatusChange) {
	h.lines[c.MessageID] = historyLines(h.lines[c.MessageID], h.driver, c)
}

// of returns the lines of the messages ids, in their order ("" for a
// message without any), for a perMessage column.
func (h messageHistory) of(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(h.lines[id])
	}
	return out
}

// appendOnly appends the lines of the messages ids to their histories,
// changing nothing else: for changes no status update carries (a report
// that could not move its message). Sorted by id, so that concurrent
// batches lock the rows in one order.
func appendOnly(db *gorm.DB, h messageHistory, ids []string) error {
	slices.SortFunc(ids, cmp.Compare[string])
	for chunk := range slices.Chunk(ids, idChunk) {
		each := []perMessage{{column: historyColumn, expr: appendHistory, values: h.of(chunk)}}
		if err := updateMessages(db, chunk, map[string]any{}, each, ""); err != nil {
			return fmt.Errorf("add %d reports to the status history: %w", len(chunk), err)
		}
	}
	return nil
}
