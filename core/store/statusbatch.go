package store

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/sdk"
)

// applyStatuses applies one provider's status reports, in order, with a
// few statements for all of them: one locked read of their messages, one
// update per new status (values that differ per message set with CASE),
// one insert each for history and held reports. Reports are the bulk of
// what the database does per message, so this is where statements count.
func applyStatuses(tx *gorm.DB, provider string, evs []sdk.StatusEvent) error {
	if len(evs) == 0 {
		return nil
	}
	now := time.Now().UTC()
	targets, err := reportTargets(tx, provider, evs)
	if err != nil {
		return err
	}
	type update struct {
		m      *webhookTarget
		status sdk.Status
		at     time.Time
		code   string
		reason string
	}
	var (
		changes []StatusChange
		held    []HeldStatus
		final   = map[string]*update{} // by message id: the last applied change
	)
	for _, ev := range evs {
		at := ev.At
		if at.IsZero() {
			at = now
		}
		at = at.UTC()
		t := targets[ev.ProviderMessageID]
		if t == nil {
			held = append(held, HeldStatus{Provider: provider, ProviderMessageID: ev.ProviderMessageID, Status: string(ev.Status),
				ProviderStatus: ev.ProviderStatus, ErrorCode: ev.ErrorCode, At: at})
			continue
		}
		m := &t.Message
		applied := statusRank(ev.Status) > statusRank(sdk.Status(m.Status))
		change := StatusChange{MessageID: m.ID, Status: string(ev.Status), Provider: provider, ProviderStatus: ev.ProviderStatus,
			ErrorCode: ev.ErrorCode, Applied: applied, At: at}
		if applied {
			// The message in memory moves too, so the next report of the
			// same message in this batch is judged against it.
			m.Status = string(ev.Status)
			switch {
			case ev.Status == sdk.StatusDelivered:
				m.DeliveredAt = &at
			case ev.Status.Final():
				m.FailedAt = &at
				m.ErrorCode, m.ErrorMessage = ev.ErrorCode, failureText(ev)
				change.Reason = m.ErrorMessage
			case ev.Status == sdk.StatusSent && m.SentAt == nil:
				m.SentAt = &at
			}
			final[m.ID] = &update{m: t, status: ev.Status, at: at, code: ev.ErrorCode, reason: change.Reason}
			if typ := EventTypeFor(ev.Status); typ != "" && (t.WebhookURL != "" || m.CallbackURL != "") {
				d, err := newDelivery(tx, m.AccountID, m.ID, typ, m.CallbackURL, messageEventData(m, messageEvent{MessageID: m.ID,
					Status: ev.Status, ProviderStatus: ev.ProviderStatus, ErrorCode: ev.ErrorCode, Reason: change.Reason, At: at}), at)
				if err != nil {
					return err
				}
				if err := addDelivery(tx, t.delivery(d)); err != nil {
					return fmt.Errorf("enqueue %s webhook for message %s: %w", typ, m.ID, err)
				}
			}
		}
		changes = append(changes, change)
	}

	// One update per new status, each message's own times and codes
	// given per message (see updateMessages).
	byStatus := map[sdk.Status][]*update{}
	for _, u := range final {
		byStatus[u.status] = append(byStatus[u.status], u)
	}
	for st, us := range byStatus {
		slices.SortFunc(us, func(a, b *update) int { return cmp.Compare(a.m.ID, b.m.ID) })
		for chunk := range slices.Chunk(us, idChunk) {
			ids := make([]string, len(chunk))
			ats := make([]time.Time, len(chunk))
			for i, u := range chunk {
				ids[i], ats[i] = u.m.ID, u.at
			}
			var each []perMessage
			switch {
			case st == sdk.StatusDelivered:
				each = []perMessage{{column: "delivered_at", values: ats}}
			case st.Final():
				codes, reasons := make([]string, len(chunk)), make([]string, len(chunk))
				for i, u := range chunk {
					codes[i], reasons[i] = u.code, u.reason
				}
				each = []perMessage{{column: "failed_at", values: ats}, {column: "error_code", values: codes}, {column: "error_message", values: reasons}}
			case st == sdk.StatusSent:
				// Only messages without a sent time get one: COALESCE keeps
				// the time their submit was answered.
				each = []perMessage{{column: "sent_at", expr: "COALESCE(sent_at, %s)", values: ats}}
			}
			if err := updateMessages(tx, ids, map[string]any{"status": string(st), "updated_at": now}, each, ""); err != nil {
				return fmt.Errorf("apply %d %s reports: %w", len(ids), st, err)
			}
		}
	}
	if len(held) > 0 {
		if err := insertRows(tx, held); err != nil {
			return fmt.Errorf("hold %d reports: %w", len(held), err)
		}
	}
	if len(changes) > 0 {
		if err := insertRows(tx, changes); err != nil {
			return fmt.Errorf("store %d status changes: %w", len(changes), err)
		}
	}
	return nil
}

// reportTargets reads, and locks on PostgreSQL, the messages the reports
// are about, with their account's webhook URL, by provider message id.
func reportTargets(tx *gorm.DB, provider string, evs []sdk.StatusEvent) (map[string]*webhookTarget, error) {
	pids := make([]string, 0, len(evs))
	for _, ev := range evs {
		pids = append(pids, ev.ProviderMessageID)
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	out := make(map[string]*webhookTarget, len(pids))
	for chunk := range slices.Chunk(pids, idChunk) {
		var got []webhookTarget
		// Locked, so that reports of one message stored at once (its event
		// stream and a status poll, possibly on two servers) apply one
		// after the other, the second seeing what the first did.
		err := forUpdate(tx, "messages").Table("messages").Select(webhookTargetColumns+", COALESCE(webhooks.url, '') AS webhook_url, COALESCE(webhooks.secret, '') AS webhook_secret").
			Joins("LEFT JOIN webhooks ON webhooks.account_id = messages.account_id").
			Where("messages.provider = ? AND messages.provider_message_id IN ?", provider, chunk).
			Order("messages.id").Scan(&got).Error
		if err != nil {
			return nil, fmt.Errorf("read the messages of %d reports: %w", len(chunk), err)
		}
		for i := range got {
			if _, seen := out[got[i].ProviderMessageID]; !seen {
				out[got[i].ProviderMessageID] = &got[i]
			}
		}
	}
	return out, nil
}
