package store

import (
	"context"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// View is the message as its account sees it.
func (m *Message) View() message.View {
	return message.View{ID: m.ID, Recipient: m.Recipient, Sender: m.Sender, Segments: m.Segments, Status: m.Status,
		ErrorCode: m.ErrorCode, ErrorMessage: m.ErrorMessage, CreatedAt: m.CreatedAt, SendAt: m.SendAt, ExpiresAt: m.ExpiresAt,
		SentAt: m.SentAt, DeliveredAt: m.DeliveredAt, FailedAt: m.FailedAt, ProviderStatusAt: m.ProviderStatusAt}
}

func views(msgs []Message) []message.View {
	if msgs == nil {
		return nil
	}
	out := make([]message.View, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].View()
	}
	return out
}

// MessageView is GetMessage as the account sees the message.
func (s *Store) MessageView(ctx context.Context, accountID, id string) (message.View, error) {
	m, err := s.GetMessage(ctx, accountID, id)
	if err != nil {
		return message.View{}, err
	}
	return m.View(), nil
}

// MessageViews is GetMessages as the account sees the messages.
func (s *Store) MessageViews(ctx context.Context, accountID string, ids []string) ([]message.View, error) {
	msgs, err := s.GetMessages(ctx, accountID, ids)
	return views(msgs), err
}

// ListMessageViews is ListMessages as the account sees the messages.
func (s *Store) ListMessageViews(ctx context.Context, accountID string, f message.Filter) ([]message.View, string, error) {
	msgs, next, err := s.ListMessages(ctx, accountID, MessageFilter{Status: string(f.Status), Since: f.Since, Limit: f.Limit, Cursor: f.Cursor})
	return views(msgs), next, err
}

// CancelMessageView is CancelMessage returning the cancelled message as
// the account sees it.
func (s *Store) CancelMessageView(ctx context.Context, accountID, id string, now time.Time) (message.View, error) {
	m, err := s.CancelMessage(ctx, accountID, id, now)
	if err != nil {
		return message.View{}, err
	}
	return m.View(), nil
}
