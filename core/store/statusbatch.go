package store

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// report is a status report with when smsrouter learnt of it, the
// held_statuses row it was kept in, if any, the id of the event that
// brought it ("" for one held by an earlier version) and, for a report
// that makes its message final, the processed_events row its event id did
// not get (eventguard.go).
type report struct {
	message.Report
	learnt  time.Time
	heldID  uint64
	eventID string
	guard   *ProcessedEvent
}

// applyStatuses applies one provider's status reports, in order, with a
// few statements for all of them: one locked read of their messages, one
// update per new status (values that differ per message joined by id),
// which appends to their history too. Reports are the bulk of what the
// database does per message, so this is where statements count. It returns the reports
// no message takes (yet), for the caller to hold.
//
// A message's times are when smsrouter learnt of each status, so that
// sent, delivered and failed follow one another; the provider's own time
// for a report is kept beside it (StatusChange.ProviderAt,
// Message.ProviderStatusAt).
func applyStatuses(tx *eventTx, provider string, reps []report, now time.Time) ([]report, error) {
	if len(reps) == 0 {
		return nil, nil
	}
	targets, err := reportTargets(tx.DB, provider, reps)
	if err != nil {
		return nil, err
	}
	return applyStatusesTo(tx, provider, reps, targets, now)
}

// applyStatusesTo is applyStatuses with the reports' messages read.
func applyStatusesTo(tx *eventTx, provider string, reps []report, targets map[string][]*webhookTarget, now time.Time) ([]report, error) {
	if len(reps) == 0 {
		return nil, nil
	}
	b := statusBatch{provider: provider, final: map[string]*statusUpdate{}, history: newMessageHistory(tx.Dialector.Name())}
	var unmatched []report
	for _, r := range reps {
		if heldCopy(targets[r.ProviderMessageID], r) {
			continue
		}
		t := pickTarget(targets[r.ProviderMessageID], r.Recipient)
		if t == nil {
			unmatched = append(unmatched, r)
			b.unguard(r)
			continue
		}
		if err := b.apply(tx, t, r); err != nil {
			return nil, err
		}
	}
	if err := b.write(tx.DB, now.UTC()); err != nil {
		return nil, err
	}
	return unmatched, nil
}

// statusBatch is one provider's reports as applied in memory, to be
// written with a few statements.
type statusBatch struct {
	provider string
	// history holds every report's change, applied or not, by message;
	// late lists the messages whose reports all came too late to move
	// them, which no status update carries.
	history messageHistory
	late    []string
	final   map[string]*statusUpdate // by message id: the last applied change
	// unguarded are the rows of guarded reports that did not make their
	// message final after all, to be written as any event's.
	unguarded []ProcessedEvent
}

// heldCopy reports whether r is a held report whose event has made one of
// cands final since it was held: the same event, stored again, applied
// while this copy waited. It is used up without a trace, as the event's
// row would have kept the second copy out.
func heldCopy(cands []*webhookTarget, r report) bool {
	if r.heldID == 0 || r.eventID == "" {
		return false
	}
	for _, t := range cands {
		if t.FinalEventID != nil && *t.FinalEventID == r.eventID {
			return true
		}
	}
	return false
}

// unguard keeps r's event id in processed_events, should r be a guarded
// report: no message carries it.
func (b *statusBatch) unguard(r report) {
	if r.guard != nil {
		b.unguarded = append(b.unguarded, *r.guard)
	}
}

// statusUpdate is a message's new status and what goes with it.
type statusUpdate struct {
	m          *webhookTarget
	status     message.Status
	at         time.Time
	providerAt *time.Time
	code       string
	reason     string
	// finalEvent is the event id the message keeps, or nil.
	finalEvent *string
}

// apply judges r against t's message as it stands in this batch
// (message.Status.MovesTo, message.ReportedAt), keeps the change for the
// history, and when it applies moves the message in memory, so that the
// next report of the same message in the batch is judged against it, and
// enqueues the webhook the move causes.
func (b *statusBatch) apply(tx *eventTx, t *webhookTarget, r report) error {
	ev := r.Report
	var providerAt *time.Time
	if !ev.At.IsZero() {
		pa := ev.At.UTC()
		providerAt = &pa
	}
	m := &t.Message
	at := message.ReportedAt(r.learnt, m.SentAt).UTC()
	before := m.Status
	applied := m.Status.MovesTo(ev.Status)
	change := StatusChange{MessageID: m.ID, Status: ev.Status, Provider: b.provider, ProviderStatus: ev.ProviderStatus,
		ErrorCode: ev.ErrorCode, Applied: applied, At: at, ProviderAt: providerAt}
	if !applied {
		b.unguard(r)
		b.addChange(change)
		return nil
	}
	m.Status = ev.Status
	switch {
	case ev.Status == message.Delivered:
		m.DeliveredAt = &at
	case ev.Status.Final():
		m.FailedAt = &at
		m.ErrorCode, m.ErrorMessage = ev.ErrorCode, ev.FailureText()
		change.Reason = m.ErrorMessage
	case ev.Status == message.Sent && m.SentAt == nil:
		m.SentAt = &at
	}
	m.ProviderStatusAt = providerAt
	b.addChange(change)
	u := &statusUpdate{m: t, status: ev.Status, at: at, providerAt: providerAt, code: ev.ErrorCode, reason: change.Reason}
	if r.guard != nil && ev.Status.Final() {
		u.finalEvent = &r.guard.EventID
	}
	b.final[m.ID] = u
	typ := outbox.EventTypeFor(ev.Status)
	if typ == "" || (t.WebhookURL == "" && m.CallbackURL == "") {
		return nil
	}
	d, err := newDelivery(tx.DB, m.AccountID, m.ID, typ, m.CallbackURL, messageEventData(m, messageEvent{MessageID: m.ID,
		Status: ev.Status, ProviderStatus: ev.ProviderStatus, ErrorCode: ev.ErrorCode, Reason: change.Reason, At: at}), at)
	if err != nil {
		return err
	}
	td := t.delivery(d)
	td.Before, td.Reported = before, ev.Status
	if err := addDelivery(tx, td); err != nil {
		return fmt.Errorf("enqueue %s webhook for message %s: %w", typ, m.ID, err)
	}
	return nil
}

// addChange keeps c for its message's history.
func (b *statusBatch) addChange(c StatusChange) {
	if _, seen := b.history.lines[c.MessageID]; !seen && !c.Applied {
		b.late = append(b.late, c.MessageID)
	}
	b.history.add(c)
}

// write stores the batch: one update per new status, each message's own
// times, codes and history lines given per message (see updateMessages),
// and one update of the history alone for messages no report moved.
func (b *statusBatch) write(db *gorm.DB, now time.Time) error {
	// Which of these ids was new was decided when the batch read them; a
	// row written meanwhile by another transaction changes nothing here.
	if _, err := recordEventIDs(db, b.provider, b.unguarded, now); err != nil {
		return err
	}
	byStatus := map[message.Status][]*statusUpdate{}
	for _, u := range b.final {
		byStatus[u.status] = append(byStatus[u.status], u)
	}
	for st, us := range byStatus {
		slices.SortFunc(us, func(a, b *statusUpdate) int { return cmp.Compare(a.m.ID, b.m.ID) })
		for chunk := range slices.Chunk(us, idChunk) {
			if err := writeStatus(db, st, chunk, b.history, now); err != nil {
				return err
			}
		}
	}
	unmoved := slices.DeleteFunc(b.late, func(id string) bool { return b.final[id] != nil })
	return appendOnly(db, b.history, unmoved)
}

// writeStatus moves the messages of chunk to st in one statement, adding
// their lines of h to their history.
func writeStatus(db *gorm.DB, st message.Status, chunk []*statusUpdate, h messageHistory, now time.Time) error {
	ids := make([]string, len(chunk))
	ats := make([]time.Time, len(chunk))
	providerAts := make([]*time.Time, len(chunk))
	for i, u := range chunk {
		ids[i], ats[i], providerAts[i] = u.m.ID, u.at, u.providerAt
	}
	each := []perMessage{{column: "provider_status_at", values: providerAts},
		{column: historyColumn, expr: appendHistory, values: h.of(ids)}}
	switch {
	case st == message.Delivered:
		each = append(each, perMessage{column: "delivered_at", values: ats}, finalEvents(chunk))
	case st.Final():
		codes, reasons := make([]string, len(chunk)), make([]string, len(chunk))
		for i, u := range chunk {
			codes[i], reasons[i] = u.code, u.reason
		}
		each = append(each, perMessage{column: "failed_at", values: ats}, perMessage{column: "error_code", values: codes},
			perMessage{column: "error_message", values: reasons}, finalEvents(chunk))
	case st == message.Sent:
		// Only messages without a sent time get one: COALESCE keeps
		// the time their submit was answered.
		each = append(each, perMessage{column: "sent_at", expr: "COALESCE(sent_at, %s)", values: ats})
	}
	up := map[string]any{"status": string(st), "updated_at": now}
	if st.Final() {
		// Out of the poller's index; a message no poller waited for
		// has none, so this changes nothing and the update stays HOT.
		up["awaiting_report_since"] = nil
	}
	if err := updateMessages(db, ids, up, each, ""); err != nil {
		return fmt.Errorf("apply %d %s reports: %w", len(ids), st, err)
	}
	return nil
}

// finalEvents is the final_event_id column of messages made final (nil
// for those whose report's id has a row).
func finalEvents(chunk []*statusUpdate) perMessage {
	ids := make([]*string, len(chunk))
	for i, u := range chunk {
		ids[i] = u.finalEvent
	}
	return perMessage{column: "final_event_id", values: ids}
}

// holdReports keeps reports no message takes yet (see HeldStatus).
func holdReports(tx *gorm.DB, provider string, reps []report) error {
	if len(reps) == 0 {
		return nil
	}
	held := make([]HeldStatus, len(reps))
	for i, r := range reps {
		var providerAt *time.Time
		if !r.At.IsZero() {
			pa := r.At.UTC()
			providerAt = &pa
		}
		held[i] = HeldStatus{Provider: provider, ProviderMessageID: r.ProviderMessageID, Recipient: digits(r.Recipient),
			Status: r.Status, ProviderStatus: r.ProviderStatus, ErrorCode: r.ErrorCode, At: r.learnt.UTC(), ProviderAt: providerAt,
			EventID: r.eventID}
	}
	if err := insertRows(tx, held); err != nil {
		return fmt.Errorf("hold %d reports: %w", len(held), err)
	}
	return nil
}

// pickTarget chooses, among the messages a provider gave one id, the one a
// report is about. Providers reuse ids (an SMSC restarts its counter at 1,
// or wraps), so the id alone may name several: the report's recipient, when
// it gives one, must match; of those, a message still awaiting a final
// report is preferred to one that has it, and the newest to older ones.
// Nil: no message takes the report (yet).
func pickTarget(cands []*webhookTarget, recipient string) *webhookTarget {
	want := digits(recipient)
	var best *webhookTarget
	for _, t := range cands {
		if want != "" && digits(t.Recipient) != want {
			continue
		}
		if best == nil || betterTarget(t, best) {
			best = t
		}
	}
	return best
}

// betterTarget reports whether a is a likelier subject of a report than b.
func betterTarget(a, b *webhookTarget) bool {
	aWaits, bWaits := !a.Status.Final(), !b.Status.Final()
	if aWaits != bWaits {
		return aWaits
	}
	at, bt := a.CreatedAt, b.CreatedAt
	if a.SentAt != nil && b.SentAt != nil {
		at, bt = *a.SentAt, *b.SentAt
	}
	if !at.Equal(bt) {
		return at.After(bt)
	}
	return a.ID > b.ID
}

// digits is a phone number's digits, for comparing the forms providers
// write ("+4915…", "4915…"); "" for an empty or alphanumeric address.
func digits(number string) string {
	d := strings.TrimPrefix(strings.TrimSpace(number), "+")
	if d == "" || strings.Trim(d, "0123456789") != "" {
		return ""
	}
	return d
}

// reportTargetColumns are the webhookTargetColumns and the event id that
// made a message final, which tells a replayed report (eventguard.go).
const reportTargetColumns = webhookTargetColumns + ", messages.final_event_id"

// hasProviderID is idx_messages_sent_ref's condition, which every lookup by
// provider message id states: the planner reads a partial index only for
// a query that says its condition, and cannot infer it from an id that is
// a parameter.
const hasProviderID = "messages.provider_message_id <> ''"

// reportTargets reads, and locks on PostgreSQL, the messages the reports
// are about, with their account's webhook URL, by provider message id
// (several for an id the provider reused).
func reportTargets(tx *gorm.DB, provider string, reps []report) (map[string][]*webhookTarget, error) {
	pids := make([]string, 0, len(reps))
	for _, r := range reps {
		pids = append(pids, r.ProviderMessageID)
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	out := make(map[string][]*webhookTarget, len(pids))
	for chunk := range slices.Chunk(pids, idChunk) {
		var got []webhookTarget
		var err error
		// Locked, so that reports of one message stored at once (its event
		// stream and a status poll, possibly on two servers) apply one
		// after the other, the second seeing what the first did.
		if tx.Dialector.Name() == DriverPostgres {
			got, err = reportTargetsArray(tx, provider, chunk)
		} else {
			err = tx.Table("messages").Select(reportTargetColumns+", COALESCE(webhooks.url, '') AS webhook_url, COALESCE(webhooks.secret, '') AS webhook_secret").
				Joins("LEFT JOIN webhooks ON webhooks.account_id = messages.account_id").
				Where("messages.provider = ? AND messages.provider_message_id IN ? AND "+hasProviderID, provider, chunk).
				Order("messages.id").Scan(&got).Error
		}
		if err != nil {
			return nil, fmt.Errorf("read the messages of %d reports: %w", len(chunk), err)
		}
		for i := range got {
			out[got[i].ProviderMessageID] = append(out[got[i].ProviderMessageID], &got[i])
		}
	}
	return out, nil
}

// reportTargetsArrayQuery is reportTargetsArray's statement.
const reportTargetsArrayQuery = `SELECT ` + reportTargetColumns + `,
COALESCE(webhooks.url, '') AS webhook_url, COALESCE(webhooks.secret, '') AS webhook_secret
FROM messages LEFT JOIN webhooks ON webhooks.account_id = messages.account_id
WHERE messages.provider = $1 AND messages.provider_message_id = ANY($2::text[]) AND ` + hasProviderID + `
ORDER BY messages.id FOR UPDATE OF messages`

// reportTargetsArray is reportTargets' read on PostgreSQL: the ids as one
// array, so that every batch of reports runs one statement text (an IN
// list is parsed and planned anew for each batch size), locking the
// messages read.
func reportTargetsArray(tx *gorm.DB, provider string, pids []string) ([]webhookTarget, error) {
	rows, err := tx.Statement.ConnPool.QueryContext(tx.Statement.Context, reportTargetsArrayQuery, provider, pids)
	if err != nil {
		return nil, err
	}
	return scanStructs[webhookTarget](tx, rows)
}
