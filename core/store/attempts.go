package store

import (
	"database/sql"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
)

// Recording a dispatch round used to cost two statements per message; these
// do it in a few statements per round, since a round is hundreds of
// messages and every statement is a round trip and the database's CPU.

// idChunk caps the ids of one statement (a CASE costs two parameters per
// id, well under both drivers' limits).
const idChunk = 500

// unsentStatuses are the statuses of message.Status.Unsent, and
// stillUnsent the same as a condition: an attempt's outcome lands only on
// a message nothing moved since its claim (a report that came first, a
// cancel), the forward-only rule (message.Status.MovesTo) as the update
// must say it to hold against concurrent writers.
var unsentStatuses = []string{string(message.Queued), string(message.Pending)}

const stillUnsent = "status IN ('queued', 'pending')"

// openMessages returns which of the results' messages are still queued or
// pending, locking them on PostgreSQL.
func openMessages(tx *gorm.DB, results []message.Attempt) (map[string]bool, error) {
	ids := make([]string, 0, len(results))
	for _, r := range results {
		ids = append(ids, r.MessageID)
	}
	// Sorted, so that concurrent rounds lock rows in one order.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	open := make(map[string]bool, len(ids))
	for chunk := range slices.Chunk(ids, idChunk) {
		var got []string
		q := forUpdate(tx, "messages").Model(&Message{}).Where("id IN ? AND status IN ?", chunk, unsentStatuses).Order("id")
		if err := q.Pluck("id", &got).Error; err != nil {
			return nil, fmt.Errorf("read messages to record: %w", err)
		}
		for _, id := range got {
			open[id] = true
		}
	}
	return open, nil
}

// releaseUntried puts messages our own limits held back into the queue
// again, due at their RetryAt, with the claim's attempt undone.
func releaseUntried(tx *gorm.DB, results []message.Attempt) error {
	groups := map[[2]time.Time][]string{}
	for _, r := range results {
		k := [2]time.Time{r.RetryAt, r.At}
		groups[k] = append(groups[k], r.MessageID)
	}
	for k, ids := range groups {
		for chunk := range slices.Chunk(ids, idChunk) {
			err := tx.Model(&Message{}).Where("id IN ? AND status IN ?", chunk, unsentStatuses).Updates(map[string]any{
				"lease_until": nil, "next_attempt_at": k[0], "attempts": gorm.Expr("attempts - 1"), "updated_at": k[1]}).Error
			if err != nil {
				return fmt.Errorf("release %d messages: %w", len(chunk), err)
			}
		}
	}
	return nil
}

// outcomeKey is what results updated by one statement share; what differs
// between them (the provider's message id) is set with a CASE.
type outcomeKey struct {
	status    message.Status
	provider  string
	candidate int
	code      string
	reason    string
	at        time.Time
	retryAt   time.Time
	plan      string
	route     string
	why       string
}

// updateOutcomes records tried results: sent with the provider's message
// id, final with the provider's code, or due again at RetryAt; each with
// its lines of h appended to the message's history by the same update.
// Messages sent by a provider for which polled is true are kept for the
// status poller.
func updateOutcomes(tx *gorm.DB, results []message.Attempt, h messageHistory, polled func(provider string) bool) error {
	groups := map[outcomeKey][]message.Attempt{}
	var order []outcomeKey
	for _, r := range results {
		k := outcomeKey{r.Status, r.Provider, r.Candidate, r.Code, r.Reason, r.At, r.RetryAt, r.Plan, r.Route, r.Why}
		if r.Status == message.Sent {
			k.code, k.reason, k.retryAt = "", "", time.Time{}
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	for _, k := range order {
		for chunk := range slices.Chunk(groups[k], idChunk) {
			ids := make([]string, len(chunk))
			for i, r := range chunk {
				ids[i] = r.MessageID
			}
			up := map[string]any{"status": string(k.status), "lease_until": nil, "updated_at": k.at,
				"candidate": k.candidate, "error_code": k.code, "error_message": k.reason}
			if k.plan != "" {
				up["plan"] = k.plan
			}
			if k.route != "" {
				up["route"] = k.route
			}
			if k.why != "" {
				up["why"] = k.why
			}
			var each []perMessage
			switch {
			case k.status == message.Sent:
				pids := make([]string, len(chunk))
				for i, r := range chunk {
					pids[i] = r.ProviderMessageID
				}
				up["provider"] = k.provider
				up["sent_at"] = k.at
				if polled(k.provider) {
					up["awaiting_report_since"] = k.at
				}
				each = []perMessage{{column: "provider_message_id", values: pids}}
			case k.status.Final():
				up["provider"] = k.provider
				up["failed_at"] = k.at
			default:
				up["next_attempt_at"] = k.retryAt
			}
			each = append(each, perMessage{column: historyColumn, expr: appendHistory, values: h.of(ids)})
			if err := updateMessages(tx, ids, up, each, stillUnsent); err != nil {
				return fmt.Errorf("record %d %s messages: %w", len(ids), k.status, err)
			}
		}
	}
	return nil
}

// maxSender is the width of messages.sender.
const maxSender = 32

// recordSenders gives sent messages without a sender of their own the one
// their provider reported using, before their message.sent is written.
func recordSenders(tx *gorm.DB, accepted []message.Attempt) error {
	var ids, senders []string
	for _, r := range accepted {
		if r.Sender != "" && len(r.Sender) <= maxSender && utf8.ValidString(r.Sender) {
			ids, senders = append(ids, r.MessageID), append(senders, r.Sender)
		}
	}
	for start := 0; start < len(ids); start += idChunk {
		end := min(start+idChunk, len(ids))
		each := []perMessage{{column: "sender", values: senders[start:end]}}
		if err := updateMessages(tx, ids[start:end], map[string]any{}, each, "sender = ''"); err != nil {
			return fmt.Errorf("record the senders of %d messages: %w", end-start, err)
		}
	}
	return nil
}

// heldFor returns the held reports of accepted messages, oldest first.
func heldFor(tx *gorm.DB, accepted []message.Attempt) ([]HeldStatus, error) {
	var out []HeldStatus
	for chunk := range slices.Chunk(accepted, idChunk) {
		var held []HeldStatus
		var err error
		if tx.Dialector.Name() == DriverPostgres {
			held, err = heldForArrays(tx, chunk)
		} else {
			args := make([]any, 0, 2*len(chunk))
			for _, r := range chunk {
				args = append(args, r.Provider, r.ProviderMessageID)
			}
			q := "(provider, provider_message_id) IN (" + tuples(len(chunk), "(?, ?)") + ")"
			err = tx.Where(q, args...).Order("id").Find(&held).Error
		}
		if err != nil {
			return nil, fmt.Errorf("read held reports: %w", err)
		}
		out = append(out, held...)
	}
	slices.SortFunc(out, func(a, b HeldStatus) int { return int(a.ID) - int(b.ID) })
	return out, nil
}

// heldForArrays is heldFor's read on PostgreSQL: the pairs as two arrays,
// one statement text whatever their number. As a list of row values it
// was planned anew for each round's size and spent milliseconds in bind
// per round, for a table that is empty most of the time.
func heldForArrays(tx *gorm.DB, chunk []message.Attempt) ([]HeldStatus, error) {
	providers, ids := make([]string, len(chunk)), make([]string, len(chunk))
	for i, r := range chunk {
		providers[i], ids[i] = r.Provider, r.ProviderMessageID
	}
	rows, err := tx.Statement.ConnPool.QueryContext(tx.Statement.Context, `SELECT h.* FROM held_statuses h
WHERE (h.provider_message_id, h.provider) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY h.id`, ids, providers)
	if err != nil {
		return nil, err
	}
	var held []HeldStatus
	err = scanAll(rows, func(r *sql.Rows) error {
		var h HeldStatus
		if err := tx.ScanRows(r, &h); err != nil {
			return err
		}
		held = append(held, h)
		return nil
	})
	return held, err
}

// applyHeld applies held reports (oldest first) and deletes those a
// message took: per provider one applyStatuses for all its reports and one
// delete. Reports that beat their submit answer are the rule, not the
// exception, with a provider that reports at once, so this runs for most
// of a round. A report no message takes (its recipient is another's) stays
// held until one does or it is pruned.
func applyHeld(tx *eventTx, held []HeldStatus, now time.Time) error {
	if len(held) == 0 {
		return nil
	}
	byProvider := map[string][]report{}
	var providers []string
	for _, h := range held {
		if _, ok := byProvider[h.Provider]; !ok {
			providers = append(providers, h.Provider)
		}
		ev := message.Report{ProviderMessageID: h.ProviderMessageID, Recipient: h.Recipient,
			Status: h.Status, ProviderStatus: h.ProviderStatus, ErrorCode: h.ErrorCode}
		if h.ProviderAt != nil {
			ev.At = *h.ProviderAt
		}
		byProvider[h.Provider] = append(byProvider[h.Provider], report{Report: ev, learnt: h.At, heldID: h.ID, eventID: h.EventID})
	}
	ids := make([]uint64, 0, len(held))
	for _, p := range providers {
		unmatched, err := applyStatuses(tx, p, byProvider[p], now)
		if err != nil {
			return err
		}
		left := make(map[uint64]bool, len(unmatched))
		for _, r := range unmatched {
			left[r.heldID] = true
		}
		for _, r := range byProvider[p] {
			if !left[r.heldID] {
				ids = append(ids, r.heldID)
			}
		}
	}
	for chunk := range slices.Chunk(ids, idChunk) {
		if err := tx.Where("id IN ?", chunk).Delete(&HeldStatus{}).Error; err != nil {
			return fmt.Errorf("delete %d applied held reports: %w", len(chunk), err)
		}
	}
	return nil
}
