package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/sdk"
)

// CancelledCode is the error code of a message its application cancelled;
// such a message ends failed.
const CancelledCode = "CANCELLED"

// cancelledReason is the error message a cancelled message is left with.
const cancelledReason = "cancelled by the application before any provider accepted it"

// NotCancellableError says why a message cannot be cancelled: a provider
// has it (or had it) already, or a dispatcher is handing it to one now.
type NotCancellableError struct {
	MessageID string
	// Status is the message's status.
	Status string
	// Sending is true when a dispatcher holds the message for a send in
	// progress; its outcome decides whether it can still be cancelled.
	Sending bool
}

func (e *NotCancellableError) Error() string {
	if e.Sending {
		return fmt.Sprintf("message %s is being handed to a provider right now; if that fails it can be cancelled again in a few seconds", e.MessageID)
	}
	if sdk.Status(e.Status) == sdk.StatusSent || sdk.Status(e.Status) == sdk.StatusUnknown {
		return fmt.Sprintf("message %s was already accepted by a provider (status %s); it can no longer be cancelled", e.MessageID, e.Status)
	}
	return fmt.Sprintf("message %s is already final (status %s); only queued or pending messages can be cancelled", e.MessageID, e.Status)
}

// CancelMessage ends one of the account's messages that no provider has
// accepted yet: queued or pending (scheduled ones included) and not leased
// by a dispatcher. It becomes failed with CancelledCode, its charge is
// refunded and its message.failed webhook queued, all in one transaction.
// The decision is a single conditional UPDATE, so a dispatcher claiming the
// message at the same moment either wins (and the cancel is refused) or
// never sees it. It returns ErrNotFound for an id the account does not
// have and a *NotCancellableError for a message past cancelling.
func (s *Store) CancelMessage(ctx context.Context, accountID, id string, now time.Time) (Message, error) {
	now = now.UTC() // ClaimDue's comparisons need one zone; see there
	var out Message
	err := s.transaction(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&Message{}).
			Where("id = ? AND account_id = ? AND status IN ? AND (lease_until IS NULL OR lease_until < ?)",
				id, accountID, []string{string(sdk.StatusQueued), string(sdk.StatusPending)}, now).
			Updates(map[string]any{"status": string(sdk.StatusFailed), "error_code": CancelledCode,
				"error_message": cancelledReason, "failed_at": now, "updated_at": now, "lease_until": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var m Message
			err := tx.Select("id", "status").Where("id = ? AND account_id = ?", id, accountID).Take(&m).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			st := sdk.Status(m.Status)
			return &NotCancellableError{MessageID: id, Status: m.Status,
				Sending: st == sdk.StatusQueued || st == sdk.StatusPending}
		}
		if err := tx.Create(&StatusChange{MessageID: id, Status: string(sdk.StatusFailed), ErrorCode: CancelledCode,
			Reason: cancelledReason, Applied: true, At: now}).Error; err != nil {
			return err
		}
		if err := enqueueMessageEvents(tx, []messageEvent{{MessageID: id, Status: sdk.StatusFailed, ErrorCode: CancelledCode,
			Reason: cancelledReason, At: now}}); err != nil {
			return err
		}
		if err := refundMessages(tx, []string{id}, RefundUnsent, now); err != nil {
			return err
		}
		return tx.Where("id = ?", id).Take(&out).Error
	})
	var nc *NotCancellableError
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrNotFound), errors.As(err, &nc):
		return Message{}, err
	}
	return Message{}, fmt.Errorf("cancel message %s: %w", id, err)
}
