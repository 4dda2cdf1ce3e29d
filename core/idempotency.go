package core

import (
	"context"
	"errors"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
)

// DefaultIdempotencyTTL is how long an Idempotency-Key's answer is kept.
const DefaultIdempotencyTTL = 24 * time.Hour

// Idempotency makes a send replay-safe: the answer is stored with the
// messages, in the same transaction, and a later request with the same key
// gets it back instead of sending again.
type Idempotency struct {
	Key string
	// RequestHash identifies the request, so the key reused for another
	// request can be refused.
	RequestHash string
	// Answer is the answer the caller gives for the results (one per
	// recipient), kept to be given again. It is made inside the
	// acceptance because the message ids exist only there, and kept as
	// given because every server sharing the database replays it.
	Answer func(results []BulkResult) Answer
}

// Answer is a caller's answer to a request, kept for its Idempotency-Key
// and given back on a replay; core keeps it without reading it. The
// caller's transport renders it (the HTTP API: Code is its status, Body
// its JSON).
type Answer struct {
	Code AnswerCode
	Body []byte
}

// AnswerCode is the code a caller gives its Answer, kept as given; core
// names none.
type AnswerCode = intake.AnswerCode

// IdempotencyOutcome is what an Idempotency-Key means for a request.
type IdempotencyOutcome int

const (
	// IdempotencyFresh: the key is new; the request is to be carried out.
	IdempotencyFresh IdempotencyOutcome = iota
	// IdempotencyReplay: the same request came with the key before; its
	// answer is the answer.
	IdempotencyReplay
	// IdempotencyConflict: the key came before with a different request.
	IdempotencyConflict
)

// IdempotencyCheck is what became of a request's Idempotency-Key: a
// replay carries the kept answer.
type IdempotencyCheck struct {
	Outcome IdempotencyOutcome
	Answer  Answer
}

// ReplayError refuses a send whose Idempotency-Key another request stored
// first, in the moment between its check and its acceptance; Check says
// what to answer.
type ReplayError struct {
	Check IdempotencyCheck
}

func (e *ReplayError) Error() string {
	return "the Idempotency-Key was used by a request accepted at the same moment"
}

// CheckIdempotency says what the account's key means for a request with
// requestHash.
func (s *Service) CheckIdempotency(ctx context.Context, accountID, key, requestHash string) (IdempotencyCheck, error) {
	rec, err := s.store.IdempotencyRecordFor(ctx, accountID, key)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return IdempotencyCheck{Outcome: IdempotencyFresh}, nil
	case err != nil:
		return IdempotencyCheck{}, err
	}
	return judgeReplay(rec, requestHash), nil
}

// judgeReplay compares a kept record with the request that came with its
// key again.
func judgeReplay(rec intake.Idempotency, requestHash string) IdempotencyCheck {
	if rec.RequestHash != requestHash {
		return IdempotencyCheck{Outcome: IdempotencyConflict}
	}
	return IdempotencyCheck{Outcome: IdempotencyReplay, Answer: Answer{Code: rec.Code, Body: []byte(rec.Body)}}
}
