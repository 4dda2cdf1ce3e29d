package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
)

// CancelledCode is the error code of a message its application cancelled;
// such a message ends failed.
const CancelledCode = "CANCELLED"

// cancelledReason is the error message a cancelled message is left with.
const cancelledReason = "cancelled by the application before any provider accepted it"

// CancelMessage ends one of the account's messages that no provider has
// accepted yet: queued or pending (scheduled ones included) and not leased
// by a dispatcher. It becomes failed with CancelledCode, its charge is
// refunded and its message.failed webhook queued, all in one transaction.
// The decision is a single conditional UPDATE, so a dispatcher claiming the
// message at the same moment either wins (and the cancel is refused) or
// never sees it. It returns ErrNotFound for an id the account does not
// have and a *message.NotCancellableError for a message past cancelling.
func (s *Store) CancelMessage(ctx context.Context, accountID, id string, now time.Time) (Message, error) {
	now = now.UTC() // ClaimDue's comparisons need one zone; see there
	var out Message
	err := s.transaction(ctx, func(tx *eventTx) error {
		change := historyLines(nil, tx.Dialector.Name(), StatusChange{MessageID: id, Status: message.Failed, ErrorCode: CancelledCode,
			Reason: cancelledReason, Applied: true, At: now})
		res := tx.Model(&Message{}).
			Where("id = ? AND account_id = ? AND status IN ? AND (lease_until IS NULL OR lease_until < ?)",
				id, accountID, []string{string(message.Queued), string(message.Pending)}, now).
			Updates(map[string]any{"status": string(message.Failed), "error_code": CancelledCode,
				"error_message": cancelledReason, "failed_at": now, "updated_at": now, "lease_until": nil,
				historyColumn: gorm.Expr(fmt.Sprintf(appendHistory, "?"), string(change))})
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
			return &message.NotCancellableError{MessageID: id, Status: m.Status, Sending: m.Status.Unsent()}
		}
		if err := enqueueMessageEvents(tx, []messageEvent{{MessageID: id, Status: message.Failed, ErrorCode: CancelledCode,
			Reason: cancelledReason, At: now}}); err != nil {
			return err
		}
		if err := refundMessages(tx.DB, []string{id}, RefundUnsent, now); err != nil {
			return err
		}
		return tx.Where("id = ?", id).Take(&out).Error
	})
	var nc *message.NotCancellableError
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrNotFound), errors.As(err, &nc):
		return Message{}, err
	}
	return Message{}, fmt.Errorf("cancel message %s: %w", id, err)
}
