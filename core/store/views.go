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

// Summary is the message as the account's list shows it.
func (m *Message) Summary() message.Summary {
	return message.Summary{View: m.View(), Kind: m.Kind, Encoding: m.Encoding, Country: m.Country, Route: m.Route,
		Provider: m.Provider, ProviderMessageID: m.ProviderMessageID, Attempts: m.Attempts, Charged: m.Charged}
}

// messageFilter is f in the store's terms; through bounds an export.
func messageFilter(f message.Filter, through string) MessageFilter {
	return MessageFilter{Status: string(f.Status), Since: f.Since, Until: f.Until, Provider: f.Provider, Route: f.Route,
		Recipient: f.Recipient, Kind: f.Kind, Limit: f.Limit, Cursor: f.Cursor, Through: through}
}

// ListMessageSummaries is ListMessages as the account's list shows the
// messages.
func (s *Store) ListMessageSummaries(ctx context.Context, accountID string, f message.Filter) ([]message.Summary, string, error) {
	msgs, next, err := s.ListMessages(ctx, accountID, messageFilter(f, ""))
	if err != nil {
		return nil, "", err
	}
	out := make([]message.Summary, len(msgs))
	for i := range msgs {
		out[i] = msgs[i].Summary()
	}
	return out, next, nil
}

// exportPage is how many messages an export reads at a time: each read is
// a short query, so a slow client holds no connection (SQLite has one).
const exportPage = 500

// ExportMessages hands each of at most max of the account's messages f
// selects, newest first, to each, a page at a time, and returns before
// the first the cursor where the rest begin ("" when there is no more)
// to start, which may set headers before anything is written.
func (s *Store) ExportMessages(ctx context.Context, accountID string, f message.Filter, max int,
	start func(next string) error, each func(message.Summary) error) error {
	end, err := s.ListEnd(ctx, accountID, messageFilter(f, ""), max)
	if err != nil {
		return err
	}
	if err := start(end); err != nil {
		return err
	}
	page := messageFilter(f, end)
	page.Limit = exportPage
	for {
		msgs, next, err := s.ListMessages(ctx, accountID, page)
		if err != nil {
			return err
		}
		for i := range msgs {
			if err := each(msgs[i].Summary()); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		page.Cursor = next
	}
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
