package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/segment"
	"github.com/smsrouter/smsrouter/routing"
)

// MaxBulkRecipients caps one bulk request.
const MaxBulkRecipients = 1000

// Accepter stores acceptances, all or nothing each; the store does it
// with a transaction per call, its Batcher shares one commit among
// concurrent calls.
type Accepter interface {
	Accept(ctx context.Context, a intake.Acceptance) error
}

// AcceptedCounter is told of every message stored as accepted (by the
// Accepter, or an OTP's with its code), after its transaction committed:
// kind is the message's kind, segments its segment count.
type AcceptedCounter interface {
	CountAccepted(kind message.Kind, segments int)
}

// prepare validates and routes one message and builds its row.
func (s *Service) prepare(ctx context.Context, accountID string, req SendRequest) (*intake.Message, error) {
	facts, err := Facts(accountID, req)
	if err != nil {
		return nil, err
	}
	if err := s.checkCallback(ctx, accountID, req.CallbackURL); err != nil {
		return nil, err
	}
	if err := s.checkLimits(ctx, accountID, req.From, facts.Encoding, facts.Segments, len([]rune(req.Message))); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	due, expires, sendAt, err := s.schedule(req, now)
	if err != nil {
		return nil, err
	}
	// The id exists before routing so a weighted split is stable per message.
	facts.MessageID = recordid.Ordered("msg_", now)
	// Why the message went where it went is kept with it (GET
	// /api/v1/sms/{id}): the decision records it as it is made.
	facts.KeepWhy = true
	// A scheduled message is routed as of its send time, the time rules
	// are about; the dispatcher routes it again then (see Rerouter).
	plan, err := s.planner.PlanAt(ctx, facts, due)
	var nr *routing.NoRouteError
	if errors.As(err, &nr) && nr.Refused && sendAt == nil {
		// The routes' filters dropped only gateways that are down and
		// refusing while down.
		return nil, ErrNoGatewayOnline
	}
	if err != nil {
		return nil, err
	}
	// A held message goes later: whether a gateway is online now does
	// not decide it.
	if sendAt == nil && plan.Hold.Reason == "" && s.allRefusing(plan) {
		return nil, ErrNoGatewayOnline
	}
	entries := planEntries(plan)
	charge, err := planCharge(plan, facts.Segments)
	if err != nil {
		return nil, err
	}
	m := &intake.Message{ID: facts.MessageID, AccountID: accountID, Recipient: facts.To, Sender: req.From,
		Text: req.Message, Encoding: facts.Encoding, Segments: facts.Segments, Kind: message.Kind(facts.Kind), Country: facts.Country,
		Route: plan.Route, Plan: entries, NextAttemptAt: due, ExpiresAt: expires, SendAt: sendAt, CreatedAt: now,
		Charged: charge, CallbackURL: req.CallbackURL, Why: whyText(plan.Why)}
	if sendAt != nil {
		m.Tags = req.Tags // its route is decided again at send_at, with them
	}
	hold(m, plan.Hold)
	return m, nil
}

// whyText is the stored form of a decision's Why: compact JSON, "" when
// there is none.
func whyText(w *routing.Why) string {
	if w == nil {
		return ""
	}
	b, err := json.Marshal(w) // maps of strings, numbers and bools always marshal
	if err != nil {
		return ""
	}
	return string(b)
}

// hold defers a message's first attempt to the end of its route's hold.
// Its validity still counts from when it was to be sent: one that ends
// first is tried, and found expired, when it ends.
func hold(m *intake.Message, h routing.Hold) {
	if !h.Until.After(m.NextAttemptAt) {
		return
	}
	m.NextAttemptAt, m.HoldReason = h.Until.UTC(), h.Reason
	if !h.Until.Before(m.ExpiresAt) {
		m.NextAttemptAt = m.ExpiresAt
		m.HoldReason += fmt.Sprintf("; its validity ends first (%s), so it will expire unsent", m.ExpiresAt.In(h.Until.Location()).Format("2006-01-02 15:04"))
	}
}

// ErrNoGatewayOnline means every provider a message's route offers is down
// and asked for messages to be refused meanwhile (an Android gateway with
// no phone online and when_offline = "refuse"): the client hears so at
// once instead of the message waiting. The API answers the integration
// guide's 503 "No gateway online".
var ErrNoGatewayOnline = errors.New("no gateway online: every provider this message's route offers is down and refuses messages while down")

// allRefusing reports whether every candidate of plan is unhealthy and
// refuses while down. A scheduled message is never refused: its gateway
// may be back by then, so prepare asks only for immediate ones.
func (s *Service) allRefusing(plan routing.Plan) bool {
	if s.state == nil || len(plan.Candidates) == 0 {
		return false
	}
	for _, c := range plan.Candidates {
		if ps := s.state.ProviderState(c.Provider); ps.Healthy || !ps.RefuseWhileDown {
			return false
		}
	}
	return true
}

// acceptedView is a message just accepted as its account sees it.
func acceptedView(m *intake.Message) message.View {
	return message.View{ID: m.ID, Recipient: m.Recipient, Sender: m.Sender, Segments: m.Segments, Status: message.Queued,
		CreatedAt: m.CreatedAt, SendAt: m.SendAt, ExpiresAt: m.ExpiresAt}
}

// planCharge is what the account pays for a message: the first
// candidate's price per segment times the segments, in the routing
// currency. A failover to a dearer provider is not charged extra: the
// account pays the route's first choice, known at accept time. A
// candidate without a price costs nothing.
func planCharge(plan routing.Plan, segments int) (money.Amount, error) {
	if len(plan.Candidates) == 0 || !plan.Candidates[0].HasPrice {
		return 0, nil
	}
	per, err := money.FromFloat(plan.Candidates[0].Price)
	if err != nil {
		return 0, fmt.Errorf("price of provider %s: %w", plan.Candidates[0].Provider, err)
	}
	return per * money.Amount(segments), nil
}

// checkLimits enforces the maximum segments and the allowed senders.
func (s *Service) checkLimits(ctx context.Context, accountID, from, encoding string, segs, chars int) error {
	if max := s.api.MaxSegments; max > 0 && segs > max {
		per := 153
		if encoding == segment.UCS2 {
			per = 67
		}
		return &InputError{fmt.Sprintf("message is too long: %d characters make %d %s segments; the limit is %d segments (%d characters in this encoding)",
			chars, segs, encoding, max, max*per)}
	}
	if from == "" {
		return nil
	}
	allowed, restricted, err := s.AllowedSenders(ctx, accountID)
	if err != nil {
		return err
	}
	if restricted && !slices.Contains(allowed, from) {
		return &InputError{fmt.Sprintf("sender %q is not allowed for this account; allowed senders: %s (GET /api/v1/sender-ids lists them)", from, strings.Join(allowed, ", "))}
	}
	return nil
}

// AllowedSenders returns the senders configured for the account (the
// global list and the account's own); restricted is false when there is
// no list at all, and any sender goes.
func (s *Service) AllowedSenders(ctx context.Context, accountID string) (senders []string, restricted bool, err error) {
	if len(s.api.SenderIDs) == 0 && len(s.api.AccountSenderIDs) == 0 {
		return nil, false, nil
	}
	out := append([]string(nil), s.api.SenderIDs...)
	if len(s.api.AccountSenderIDs) > 0 {
		name, err := s.names.get(ctx, s.store, accountID)
		if err != nil {
			return nil, false, err
		}
		out = append(out, s.api.AccountSenderIDs[name]...)
	}
	return out, len(out) > 0, nil
}

// accountNames caches account names, which never change, so that checking
// senders does not cost a query per message.
type accountNames struct {
	mu sync.Mutex
	m  map[string]string
}

func (a *accountNames) get(ctx context.Context, st AccountBook, id string) (string, error) {
	a.mu.Lock()
	name, ok := a.m[id]
	a.mu.Unlock()
	if ok {
		return name, nil
	}
	acc, err := st.AccountByID(ctx, id)
	if err != nil {
		return "", fmt.Errorf("look up the account's senders: %w", err)
	}
	a.mu.Lock()
	if a.m == nil {
		a.m = map[string]string{}
	}
	a.m[id] = acc.Name
	a.mu.Unlock()
	return acc.Name, nil
}

// accept stores prepared messages with their duplicate claims and
// idempotency record, then wakes the dispatcher.
func (s *Service) accept(ctx context.Context, msgs []*intake.Message, results []BulkResult, idem *Idempotency, dedupe bool) error {
	a := intake.Acceptance{Messages: msgs}
	now := s.now()
	if dedupe && s.api.DuplicateWindow > 0 {
		a.DuplicateUntil = now.Add(s.api.DuplicateWindow)
		for _, m := range msgs {
			a.Duplicates = append(a.Duplicates, intake.DuplicateClaim{AccountID: m.AccountID, Fingerprint: fingerprint(m), MessageID: m.ID})
		}
	}
	if idem != nil && len(msgs) > 0 {
		answer := idem.Answer(results)
		a.Idempotency = &intake.Idempotency{AccountID: msgs[0].AccountID, Key: idem.Key, RequestHash: idem.RequestHash,
			Code: answer.Code, Body: string(answer.Body), ExpiresAt: now.Add(DefaultIdempotencyTTL)}
	}
	if err := s.accepter.Accept(ctx, a); err != nil {
		var de *message.DuplicateError
		var re *intake.ReplayError
		var ce *account.InsufficientCreditError
		if errors.As(err, &re) {
			return &ReplayError{Check: judgeReplay(re.Record, idem.RequestHash)}
		}
		if errors.As(err, &de) || errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("accept messages: %w", err)
	}
	for _, m := range msgs {
		s.countAccepted(m)
		s.log.Debug("message accepted", "message_id", m.ID, "country", m.Country, "route", m.Route, "candidates", m.Candidates())
	}
	if s.waker != nil && len(msgs) > 0 {
		s.waker.Wake()
	}
	return nil
}

func (s *Service) countAccepted(m *intake.Message) {
	if s.counter != nil {
		s.counter.CountAccepted(m.Kind, m.Segments)
	}
}

// fingerprint names a message's recipient and text without storing either
// again.
func fingerprint(m *intake.Message) string {
	h := sha256.New()
	h.Write([]byte(m.Recipient))
	h.Write([]byte{0})
	h.Write([]byte(m.Sender))
	h.Write([]byte{0})
	h.Write([]byte(m.Text))
	return hex.EncodeToString(h.Sum(nil))
}

// BulkResult is what became of one recipient of a bulk send.
type BulkResult struct {
	To        string
	MessageID string
	Status    message.Status
	Error     string
}

// SendBulk sends one text to many recipients. Recipients that cannot be
// sent to (bad number, no route) get a result with Error; the rest are
// stored together, all or nothing. A problem with the text or sender
// itself fails the whole request with an *InputError.
func (s *Service) SendBulk(ctx context.Context, accountID string, to []string, req SendRequest) ([]BulkResult, error) {
	switch {
	case len(to) == 0:
		return nil, &InputError{"to is required: a list of recipients in international format"}
	case len(to) > MaxBulkRecipients:
		return nil, &InputError{fmt.Sprintf("to has %d recipients; the limit is %d per request", len(to), MaxBulkRecipients)}
	}
	probe := req
	probe.To = "+14155550100" // any valid number: checks text and sender once
	if _, err := Facts(accountID, probe); err != nil {
		return nil, err
	}
	// A bad send_at or validity is the whole request's, not a recipient's.
	if _, _, _, err := s.schedule(req, s.now().UTC()); err != nil {
		return nil, err
	}
	// So is a callback_url that cannot be used.
	if err := s.checkCallback(ctx, accountID, req.CallbackURL); err != nil {
		return nil, err
	}
	results := make([]BulkResult, len(to))
	msgs := make([]*intake.Message, 0, len(to))
	idx := make([]int, 0, len(to))
	for i, r := range to {
		results[i].To = r
		one := req
		one.To = r
		m, err := s.prepare(ctx, accountID, one)
		if err != nil {
			var in *InputError
			if errors.As(err, &in) || isNoRoute(err) || errors.Is(err, ErrNoGatewayOnline) {
				results[i].Status, results[i].Error = "rejected", err.Error()
				continue
			}
			return nil, err
		}
		msgs = append(msgs, m)
		idx = append(idx, i)
	}
	for k, m := range msgs {
		results[idx[k]].MessageID, results[idx[k]].Status = m.ID, message.Queued
	}
	if err := s.accept(ctx, msgs, results, req.Idempotency, false); err != nil {
		return nil, err
	}
	return results, nil
}

// Messages returns those of ids that are the account's messages.
func (s *Service) Messages(ctx context.Context, accountID string, ids []string) ([]message.View, error) {
	return s.store.MessageViews(ctx, accountID, ids)
}

// ListMessages returns a page of the account's messages, newest first.
func (s *Service) ListMessages(ctx context.Context, accountID string, f message.Filter) ([]message.Summary, string, error) {
	return s.store.ListMessageSummaries(ctx, accountID, f)
}

// ExportMessages hands at most max of the account's messages f selects,
// newest first, to each; start gets the cursor where the rest begin (""
// when there is no more) before the first.
func (s *Service) ExportMessages(ctx context.Context, accountID string, f message.Filter, max int,
	start func(next string) error, each func(message.Summary) error) error {
	return s.store.ExportMessages(ctx, accountID, f, max, start, each)
}
