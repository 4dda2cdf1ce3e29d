package storetest

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
)

// InsertMessages stores messages as accepted (store.Store.Accept), each
// with its first status, charging what they cost; a row a test gave
// another status or a send's traces is then written as given.
func InsertMessages(ctx context.Context, s *store.Store, msgs []*store.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	a := intake.Acceptance{Messages: make([]*intake.Message, len(msgs))}
	for i, m := range msgs {
		a.Messages[i] = &intake.Message{ID: m.ID, AccountID: m.AccountID, Recipient: m.Recipient, Sender: m.Sender,
			Text: m.Text, Mask: m.Mask, Encoding: m.Encoding, Segments: m.Segments, Kind: m.Kind, Country: m.Country,
			Route: m.Route, Plan: m.PlanEntries(), NextAttemptAt: m.NextAttemptAt, SendAt: m.SendAt, ExpiresAt: m.ExpiresAt,
			CreatedAt: m.CreatedAt, Charged: m.Charged, CallbackURL: m.CallbackURL}
	}
	if err := s.Accept(ctx, a); err != nil {
		return fmt.Errorf("insert %d messages: %w", len(msgs), err)
	}
	for _, m := range msgs {
		if !beyondAccepted(m) {
			continue
		}
		if err := s.DB().WithContext(ctx).Model(&store.Message{}).Where("id = ?", m.ID).
			Select("status", "plan", "candidate", "provider", "provider_message_id", "attempts", "lease_until", "error_code",
				"error_message", "sent_at", "delivered_at", "failed_at", "provider_status_at", "polled_at", "poll_count",
				"next_poll_at", "refunded_at").Updates(m).Error; err != nil {
			return fmt.Errorf("insert message %s as given: %w", m.ID, err)
		}
	}
	return nil
}

// beyondAccepted reports whether a test's row is more than a message just
// accepted.
func beyondAccepted(m *store.Message) bool {
	return (m.Status != "" && m.Status != message.Queued) || m.Candidate != 0 || m.Provider != "" || m.ProviderMessageID != "" ||
		m.Attempts != 0 || m.LeaseUntil != nil || m.ErrorCode != "" || m.SentAt != nil || m.DeliveredAt != nil ||
		m.FailedAt != nil || m.ProviderStatusAt != nil || m.PolledAt != nil || m.NextPollAt != nil || m.RefundedAt != nil
}

// CountByStatus returns how many messages are in each status, to see a
// pipeline drain.
func CountByStatus(ctx context.Context, s *store.Store) (map[message.Status]int64, error) {
	var rows []struct {
		Status message.Status
		N      int64
	}
	if err := s.DB().WithContext(ctx).Model(&store.Message{}).Select("status, count(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count messages by status: %w", err)
	}
	out := make(map[message.Status]int64, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// StatusHistory returns a message's transitions, oldest first, starting
// with the queued status it was created in (not stored as a change: its
// time is the message's created_at; databases written before that have a
// stored row for it instead).
func StatusHistory(ctx context.Context, s *store.Store, messageID string) ([]store.StatusChange, error) {
	db := s.DB().WithContext(ctx)
	out, err := s.StatusChanges(ctx, messageID)
	if err != nil {
		return nil, err
	}
	var m store.Message
	err = db.Select("id", "created_at").Where("id = ?", messageID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("status history of %s: %w", messageID, err)
	}
	if len(out) > 0 && out[0].Status == message.Queued && out[0].Provider == "" && out[0].At.Equal(m.CreatedAt) {
		return out, nil // the stored creation row of an older database
	}
	queued := store.StatusChange{MessageID: m.ID, Status: message.Queued, Applied: true, At: m.CreatedAt, CreatedAt: m.CreatedAt}
	return append([]store.StatusChange{queued}, out...), nil
}
