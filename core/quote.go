package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/routing"
)

// Quote is what a send would cost and where it would go, worked out
// without storing or sending anything.
type Quote struct {
	// Encoding and Segments are the text's; NonGSM lists the characters
	// (each once, in order, at most MaxNonGSMShown) that force UCS-2.
	Encoding string
	Segments int
	NonGSM   []string
	// Recipients are quoted in the order given.
	Recipients []QuotedRecipient
	// Total is the sum over recipients that can be sent, in the account
	// currency.
	Total money.Amount
	// Balance and CreditLimit are the account's now; Covered says whether
	// the balance pays Total within the limit (always, without a limit).
	Balance     money.Amount
	CreditLimit *money.Amount
	Covered     bool
}

// QuotedRecipient is one recipient of a quote. Error, when set, is why a
// send to it would be refused; the other fields are then partly empty.
type QuotedRecipient struct {
	To       string
	Country  string
	Operator string
	Route    string
	// Provider is the route's first choice now: health, balances and a
	// weighted route's draw (per message) can change it by send time.
	Provider string
	// Price is per message (segments × the provider's price per segment);
	// Priced is false when the provider has no price for the destination.
	Price  money.Amount
	Priced bool
	Error  string
}

// MaxNonGSMShown caps the characters a quote lists as forcing UCS-2.
const MaxNonGSMShown = 20

// Quote prices req for each of to as Send or SendBulk would, and checks it
// as they would: a body they would refuse (too long, a sender not allowed)
// is an *InputError here too; a recipient they would refuse carries its
// reason. Nothing is stored and no limit is consumed.
func (s *Service) Quote(ctx context.Context, accountID string, to []string, req SendRequest) (Quote, error) {
	if len(to) == 0 {
		return Quote{}, &InputError{"to is required: a recipient in international format, e.g. +959123456789, or a list of them"}
	}
	if len(to) > MaxBulkRecipients {
		return Quote{}, &InputError{fmt.Sprintf("at most %d recipients per quote, got %d", MaxBulkRecipients, len(to))}
	}
	var q Quote
	q.Encoding, q.Segments = segment.Count(req.Message)
	q.NonGSM = segment.NonGSM(req.Message, MaxNonGSMShown)
	if err := s.checkBody(ctx, accountID, req, q.Encoding, q.Segments); err != nil {
		return Quote{}, err
	}
	for _, r := range to {
		qr, err := s.quoteOne(ctx, accountID, r, req)
		if err != nil {
			return Quote{}, err
		}
		q.Recipients = append(q.Recipients, qr)
		if qr.Error == "" {
			q.Total += qr.Price
		}
	}
	return q, s.coverage(ctx, accountID, &q)
}

// checkBody refuses what no recipient could change: an empty text, the
// segment limit, the sender.
func (s *Service) checkBody(ctx context.Context, accountID string, req SendRequest, enc string, segs int) error {
	if req.Message == "" {
		return &InputError{"message is required: the text to send"}
	}
	return s.checkLimits(ctx, accountID, req.From, enc, segs, len([]rune(req.Message)))
}

// quoteOne routes one recipient. Errors the caller must fix become the
// recipient's Error; others (the routing state could not be read) end the
// quote.
func (s *Service) quoteOne(ctx context.Context, accountID, to string, req SendRequest) (QuotedRecipient, error) {
	req.To = to
	qr := QuotedRecipient{To: to}
	facts, err := Facts(accountID, req)
	if err != nil {
		return refusedQuote(qr, err)
	}
	qr.To, qr.Country, qr.Operator = facts.To, facts.Country, facts.Operator
	plan, err := s.planner.PlanAt(ctx, facts, s.now())
	if err != nil {
		return refusedQuote(qr, err)
	}
	qr.Route, qr.Provider = plan.Route, plan.Candidates[0].Provider
	qr.Priced = plan.Candidates[0].HasPrice
	if qr.Price, err = planCharge(plan, facts.Segments); err != nil {
		return qr, err
	}
	return qr, nil
}

func refusedQuote(qr QuotedRecipient, err error) (QuotedRecipient, error) {
	var in *InputError
	var noRoute *routing.NoRouteError
	if errors.As(err, &in) || errors.As(err, &noRoute) {
		qr.Error = err.Error()
		return qr, nil
	}
	return qr, err
}

// coverage fills in the account's balance and whether it pays the total.
func (s *Service) coverage(ctx context.Context, accountID string, q *Quote) error {
	acc, err := s.Account(ctx, accountID)
	if err != nil {
		return fmt.Errorf("read the account's balance for a quote: %w", err)
	}
	q.Balance, q.CreditLimit = acc.Balance, acc.CreditLimit
	q.Covered = acc.CreditLimit == nil || acc.Balance-q.Total >= -*acc.CreditLimit
	return nil
}
