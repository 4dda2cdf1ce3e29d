package store

import (
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// The store keeps rows; callers get the domain's types. These map one to
// the other.

// domains maps rows to the domain's type, nil staying nil.
func domains[R any, D any](rows []R, domain func(R) D) []D {
	if rows == nil {
		return nil
	}
	out := make([]D, len(rows))
	for i, r := range rows {
		out[i] = domain(r)
	}
	return out
}

func (e LedgerEntry) domain() account.LedgerEntry {
	return account.LedgerEntry{ID: e.ID, AccountID: e.AccountID, Amount: e.Amount, BalanceAfter: e.BalanceAfter, Kind: e.Kind,
		MessageID: e.MessageID, Reason: e.Reason, CreatedAt: e.CreatedAt}
}

func (w Webhook) domain() account.Webhook {
	return account.Webhook{AccountID: w.AccountID, URL: w.URL, Secret: w.Secret, CreatedAt: w.CreatedAt,
		SecretRotatedAt: w.SecretRotatedAt, UpdatedAt: w.UpdatedAt}
}

func (m InboundMessage) domain() inbound.Message {
	return inbound.Message{ID: m.ID, AccountID: m.AccountID, Provider: m.Provider, ProviderMessageID: m.ProviderMessageID,
		Sender: m.Sender, Recipient: m.Recipient, Text: m.Text, ReceivedAt: m.ReceivedAt}
}

// logged is the delivery as the API shows it, without its attempts yet.
func (d WebhookDelivery) logged() outbox.Logged {
	return outbox.Logged{EventID: d.EventID, Type: outbox.EventType(d.Type), CallbackURL: d.CallbackURL, State: outbox.State(d.State),
		Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt, LastStatus: d.LastStatus, LastError: d.LastError,
		CreatedAt: d.CreatedAt, DeliveredAt: d.DeliveredAt, GaveUpAt: d.GaveUpAt, AttemptLog: []outbox.Attempt{}}
}

func (a WebhookAttempt) domain() outbox.Attempt {
	return outbox.Attempt{At: a.At, HTTPStatus: a.HTTPStatus, Error: a.Error, DurationMS: a.DurationMS}
}
