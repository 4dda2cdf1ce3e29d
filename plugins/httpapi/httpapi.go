package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// Version is the httpapi plugin's version, reported in Info.
const Version = "1.0.0"

const (
	// rememberFor is how long the provider id of an accepted message is kept,
	// so the same message handed to Send again (its answer was lost on the
	// way to the host) is answered with that id instead of being sent twice.
	// It outlasts the usual 2-minute anti-duplicate window of aggregators.
	rememberFor = 10 * time.Minute
	// maxRemembered bounds that memory.
	maxRemembered = 100000
	// staleFactor: a cached balance or sender list is still served this many
	// refresh periods after it was fetched when the upstream cannot be asked.
	staleFactor = 3
)

var (
	_ sdk.Provider        = (*Provider)(nil)
	_ sdk.BalanceReporter = (*Provider)(nil)
	_ sdk.SenderIDLister  = (*Provider)(nil)
	_ sdk.StatusQuerier   = (*Provider)(nil)
)

var (
	errNotConfigured = errors.New("httpapi provider is not configured: Configure must be called first")
	errClosed        = errors.New("httpapi provider is closed")
	e164Pattern      = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// Provider is the configurable HTTP aggregator provider. The zero value is
// not usable; call New.
type Provider struct {
	maxBatch atomic.Int64 // read by Info without the lock

	mu         sync.Mutex
	c          *client
	closed     bool
	name       string
	log        hclog.Logger
	throttle   throttle
	remembered map[string]remembered
	order      []string // remembered ids, oldest first
	balance    cache[sdk.Balance]
	senders    cache[[]sdk.SenderID]
	now        func() time.Time
}

type remembered struct {
	providerID string
	at         time.Time
}

// client is the configured upstream: settings plus the HTTP client.
type client struct {
	s         *settings
	http      *http.Client
	transport *http.Transport
	log       hclog.Logger
}

// New returns an unconfigured provider.
func New() *Provider {
	p := &Provider{
		log:        hclog.NewNullLogger(),
		remembered: map[string]remembered{},
		balance:    newCache[sdk.Balance](),
		senders:    newCache[[]sdk.SenderID](),
		now:        time.Now,
	}
	p.maxBatch.Store(defaultMaxBatch)
	return p
}

// Info describes the httpapi plugin.
func (p *Provider) Info() sdk.Info {
	return sdk.Info{Name: "httpapi", Version: Version, MaxBatchSize: int(p.maxBatch.Load())}
}

// Capabilities reports the optional operations the configuration describes:
// a provider without a status URL does not claim to answer status queries.
func (p *Provider) Capabilities() sdk.Capabilities {
	caps := sdk.Capabilities{Info: p.Info(), SettingsValidation: true}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.c != nil {
		caps.StatusQuery = p.c.s.ops[opStatus] != nil
		caps.Balance = p.c.s.ops[opBalance] != nil
		caps.SenderIDs = p.c.s.ops[opSenderIDs] != nil
	}
	return caps
}

// Configure checks the settings described in docs/httpapi.md. It does not
// contact the upstream.
func (p *Provider) Configure(ctx context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return fmt.Errorf("configure httpapi provider %q: %w", cfg.Name, err)
	}
	logger := cfg.Log()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(s.concurrency, 2)
	tr.ResponseHeaderTimeout = s.timeout
	c := &client{s: s, transport: tr, http: &http.Client{Transport: tr, CheckRedirect: noRedirects}, log: logger}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errClosed
	}
	if p.c != nil {
		p.c.transport.CloseIdleConnections()
	}
	p.c, p.name, p.log = c, cfg.Name, logger
	p.maxBatch.Store(int64(s.maxBatch))
	ops := make([]string, 0, len(s.ops))
	for _, name := range []string{opSend, opStatus, opBalance, opSenderIDs} {
		if op := s.ops[name]; op != nil {
			ops = append(ops, name+"="+op.method+" "+redactURL(op.url.String()))
		}
	}
	logger.Info("httpapi provider configured", "auth", s.auth.Type, "operations", strings.Join(ops, ", "),
		"max_batch_size", s.maxBatch, "timeout", s.timeout.String(), "cache_refresh", s.cacheRefresh.String())
	return nil
}

// noRedirects stops at a redirect: following one would resend a POST (or
// its credentials) somewhere the operator did not configure.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (p *Provider) client() (*client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, errClosed
	case p.c == nil:
		return nil, errNotConfigured
	}
	return p.c, nil
}

// Close drops idle connections; later calls fail.
func (p *Provider) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.c != nil {
		p.c.transport.CloseIdleConnections()
	}
	return nil
}

// throttleWait is how long requests must still hold off (zero when they
// may go) and the throttle generation a request sent now goes under.
func (p *Provider) throttleWait() (time.Duration, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.throttle.wait(p.now()), p.throttle.generation
}

// throttleHit records a 429 answering a request sent under generation gen.
func (p *Provider) throttleHit(c *client, gen int, retryAfter string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	return p.throttle.hit(now, gen, parseRetryAfter(retryAfter, now), c.s.maxThrottleWait)
}

// throttleOK records a success answering a request sent under generation gen.
func (p *Provider) throttleOK(gen int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttle.ok(gen)
}

// throttledReason says why a request was not sent.
func throttledReason(wait time.Duration) string {
	return fmt.Sprintf("the aggregator is throttling this account (HTTP 429); next request allowed in %s", wait.Round(time.Millisecond))
}

func (p *Provider) remember(msgID, providerID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for len(p.order) > 0 && (len(p.order) >= maxRemembered || now.Sub(p.remembered[p.order[0]].at) > rememberFor) {
		delete(p.remembered, p.order[0])
		p.order = p.order[1:]
	}
	if _, ok := p.remembered[msgID]; !ok {
		p.order = append(p.order, msgID)
	}
	p.remembered[msgID] = remembered{providerID: providerID, at: now}
}

func (p *Provider) recall(msgID string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.remembered[msgID]
	if !ok || p.now().Sub(r.at) > rememberFor {
		return "", false
	}
	return r.providerID, true
}

// unit is the messages of one upstream request.
type unit struct {
	idx []int // indexes into the Send batch
}

// Send submits the batch: messages are grouped into requests (one per sender
// and text unless group_by = "none"), no request names a phone twice, and
// requests run a few at a time. The error is non-nil only when no request
// could reach the upstream at all.
func (p *Provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("send %d messages: %w", len(msgs), err)
	}
	op := c.s.ops[opSend]
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		results[i].MessageID = m.ID
	}
	if wait, _ := p.throttleWait(); wait > 0 {
		for i := range results {
			results[i].Outcome, results[i].Code, results[i].RetryAfter = sdk.Temporary, "429", wait
			results[i].Reason = throttledReason(wait)
		}
		return results, nil
	}

	phones := make([]string, len(msgs))
	var pending []int
	for i, m := range msgs {
		if pid, ok := p.recall(m.ID); ok {
			results[i].Outcome, results[i].ProviderMessageID = sdk.Accepted, pid
			continue
		}
		if !e164Pattern.MatchString(m.To) {
			results[i].Outcome, results[i].Code, results[i].Refusal = sdk.Permanent, "invalid_destination", sdk.RefusalInvalidDestination
			results[i].Reason = fmt.Sprintf("destination %q is not an E.164 number", m.To)
			continue
		}
		if !m.ValidUntil.IsZero() && time.Until(m.ValidUntil) < time.Second {
			results[i] = sdk.Expired(m.ID, "validity period passed before the message could be sent")
			continue
		}
		phones[i] = formatPhone(m.To, c.s.phoneFormat)
		pending = append(pending, i)
	}
	units := planUnits(op, msgs, phones, pending, c.s.defaultSender)

	s := &sendState{p: p, c: c, op: op, msgs: msgs, phones: phones, results: results, used: map[string]int{}}
	errs := make([]error, len(units))
	sem := make(chan struct{}, c.s.concurrency)
	var wg sync.WaitGroup
	for ui := range units {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[ui] = &exchangeError{op: opSend, err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			errs[ui] = s.sendUnit(ctx, units[ui])
		})
	}
	wg.Wait()

	var notSent []error
	for ui, err := range errs {
		if err == nil {
			continue
		}
		notSent = append(notSent, err)
		for _, i := range units[ui].idx {
			results[i].Outcome, results[i].Code = sdk.Temporary, "not_sent"
			results[i].Reason = err.Error()
		}
	}
	if len(units) > 0 && len(notSent) == len(units) {
		return nil, fmt.Errorf("send %d messages to %s: %w", len(msgs), redactURL(op.url.String()), errors.Join(notSent...))
	}
	return results, nil
}

// formatPhone turns an E.164 number into what the upstream wants.
func formatPhone(e164, f string) string {
	if f == "e164" {
		return e164
	}
	return strings.TrimPrefix(e164, "+")
}

// digits keeps only the digits of a phone number, so "+380 50 123" in an
// answer matches the "38050123" we sent.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sender(m sdk.Message, def string) string {
	if m.From != "" {
		return m.From
	}
	return def
}

// planUnits groups the pending messages into requests: per sender and text
// (group_by = "text"), then into rounds in which each phone appears once
// (an id→phone answer cannot tell two messages to one phone apart), then
// into chunks of batch_size.
func planUnits(op *operation, msgs []sdk.Message, phones []string, pending []int, defSender string) []unit {
	type round struct {
		idx  []int
		seen map[string]bool
	}
	var order []string
	groups := map[string][]*round{}
	for _, i := range pending {
		key := ""
		if op.groupBy == "text" {
			key = sender(msgs[i], defSender) + "\x00" + msgs[i].Text
		}
		rs, ok := groups[key]
		if !ok {
			order = append(order, key)
		}
		ph := digits(phones[i])
		placed := false
		for _, r := range rs {
			if !r.seen[ph] {
				r.idx, r.seen[ph], placed = append(r.idx, i), true, true
				break
			}
		}
		if !placed {
			rs = append(rs, &round{idx: []int{i}, seen: map[string]bool{ph: true}})
		}
		groups[key] = rs
	}
	var units []unit
	for _, key := range order {
		for _, r := range groups[key] {
			for start := 0; start < len(r.idx); start += op.batchSize {
				units = append(units, unit{idx: r.idx[start:min(start+op.batchSize, len(r.idx))]})
			}
		}
	}
	return units
}

// sendState is one Send call's shared state.
type sendState struct {
	p       *Provider
	c       *client
	op      *operation
	msgs    []sdk.Message
	phones  []string
	results []sdk.SendResult // each unit writes only its own indexes

	mu   sync.Mutex
	used map[string]int // provider id → message index, within this call
}

func (s *sendState) data(u unit) templateData {
	first := s.msgs[u.idx[0]]
	d := templateData{Text: first.Text, From: sender(first, s.c.s.defaultSender)}
	now := time.Now()
	for _, i := range u.idx {
		m := s.msgs[i]
		d.Phones = append(d.Phones, s.phones[i])
		md := messageData{ID: m.ID, To: m.To, Phone: s.phones[i], From: sender(m, s.c.s.defaultSender), Text: m.Text}
		md.ValiditySeconds, md.ValidUntil = validityData(m.ValidUntil, now)
		if md.ValiditySeconds > 0 && (d.ValiditySeconds == 0 || md.ValiditySeconds < d.ValiditySeconds) {
			d.ValiditySeconds, d.ValidUntil = md.ValiditySeconds, md.ValidUntil
		}
		d.Messages = append(d.Messages, md)
	}
	return d
}

func (s *sendState) set(u unit, o sdk.Outcome, code, reason string, retryAfter time.Duration) {
	for _, i := range u.idx {
		s.results[i] = sdk.SendResult{MessageID: s.msgs[i].ID, Outcome: o, Code: code, Reason: reason, RetryAfter: retryAfter}
	}
}

// sendUnit sends one request and fills in its messages' results. It returns
// an error only when the request did not reach the upstream.
func (s *sendState) sendUnit(ctx context.Context, u unit) error {
	log := s.c.log.With("operation", opSend, "messages", len(u.idx))
	// Another request of this Send may have been told to slow down.
	wait, gen := s.p.throttleWait()
	if wait > 0 {
		s.set(u, sdk.Temporary, "429", throttledReason(wait), wait)
		return nil
	}
	a, err := s.c.do(ctx, s.op, s.data(u))
	if err != nil {
		var xe *exchangeError
		if errors.As(err, &xe) && !xe.attempted {
			return err
		}
		// The request went out; the aggregator may have taken it. The host
		// retries, and a resend within the aggregator's duplicate window is
		// answered 453, which is never resent (see sendDuplicate).
		log.Warn("send request got no answer; outcome unknown, messages handed back for retry", "error", err)
		s.set(u, sdk.Temporary, "no_answer", err.Error(), 0)
		return nil
	}
	if a.status >= 200 && a.status < 300 {
		s.p.throttleOK(gen)
		s.mapAnswer(u, a, log)
		return nil
	}
	code, msg := s.c.upstreamError(s.op, a)
	rawCode := fmt.Sprint(a.status)
	if code != "" && code != rawCode {
		rawCode += "/" + code
	}
	switch cl := s.c.s.classify(a.status); cl {
	case classThrottled:
		wait := s.p.throttleHit(s.c, gen, a.retryAfter)
		log.Warn("aggregator is throttling; every request of this provider waits", "status", a.status, "wait", wait.String())
		s.set(u, sdk.Temporary, rawCode, fmt.Sprintf("throttled by the aggregator (HTTP %d: %s); retry in %s", a.status, msg, wait.Round(time.Millisecond)), wait)
	case classTemporary:
		log.Warn("aggregator failed the send request; outcome unknown, messages handed back for retry", "status", a.status, "error", msg)
		s.set(u, sdk.Temporary, rawCode, fmt.Sprintf("aggregator answered HTTP %d (%s); it may have accepted the messages", a.status, msg), 0)
	case classDuplicate:
		s.sendDuplicate(ctx, u, a.status, rawCode, msg, log)
	default:
		if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
			// Nothing is wrong with the messages: the host sends them
			// elsewhere and reports this provider unhealthy.
			log.Error("aggregator refused our credentials; check auth in the provider config", "status", a.status, "error", msg)
			s.set(u, sdk.OutcomeAccountError, rawCode, fmt.Sprintf("aggregator refused our credentials (HTTP %d), check auth in the provider config: %s", a.status, msg), 0)
			return nil
		}
		log.Warn("aggregator refused the send request", "status", a.status, "error", msg)
		s.set(u, sdk.Permanent, rawCode, fmt.Sprintf("aggregator refused the request (HTTP %d): %s", a.status, msg), 0)
	}
	return nil
}

// sendDuplicate handles the aggregator's "same message to the same number
// within its window" answer. It refuses the whole request, so for a batch
// nothing was sent and each message is tried alone to find the duplicate.
// A message refused alone is a duplicate of one the aggregator already has
// (typically an earlier attempt whose answer was lost): it is not resent,
// which would only repeat the refusal or, after the window, send the SMS
// twice; it fails with the aggregator's code for the operator to see.
func (s *sendState) sendDuplicate(ctx context.Context, u unit, status int, rawCode, msg string, log hclog.Logger) {
	if len(u.idx) > 1 {
		log.Info("aggregator refused a batch as a duplicate; sending its messages one by one", "status", status)
		for _, i := range u.idx {
			one := unit{idx: []int{i}}
			if err := s.sendUnit(ctx, one); err != nil {
				s.set(one, sdk.Temporary, "not_sent", err.Error(), 0)
			}
		}
		return
	}
	log.Warn("aggregator refused a message as a duplicate of one sent recently; not resending", "status", status, "message_id", s.msgs[u.idx[0]].ID)
	s.set(u, sdk.Permanent, rawCode, fmt.Sprintf("rejected as a duplicate (HTTP %d: %s): the aggregator already has the same text to this number from the last few minutes; not resent to avoid a second SMS", status, msg), 0)
	s.refuse(u, sdk.RefusalDuplicate)
}

// refuse classifies the Permanent results of u's messages (see sdk.Refusal).
func (s *sendState) refuse(u unit, r sdk.Refusal) {
	for _, i := range u.idx {
		s.results[i].Refusal = r
	}
}

// mapAnswer assigns the ids of a successful answer to the unit's messages.
func (s *sendState) mapAnswer(u unit, a *answer, log hclog.Logger) {
	r := s.op.resp
	doc, err := parseDocument(r.format, a.body)
	if err != nil {
		// A success status with an unreadable body: the aggregator probably
		// took the messages, so resending risks doubles. Fail them loudly.
		log.Error("aggregator accepted the send request but its answer cannot be read; messages failed, not resent", "status", a.status, "error", err, "answer", snippet(a.body))
		s.set(u, sdk.Permanent, "malformed_answer", fmt.Sprintf("aggregator answered HTTP %d with an unreadable body (%v); it may have accepted the messages, which are not resent", a.status, err), 0)
		s.refuse(u, sdk.RefusalDuplicate) // it may have them: no failover either
		return
	}
	items := r.items.nodes(doc)
	if len(items) == 0 {
		s.noEntries(u, a, doc, log)
		return
	}
	entries := s.matchEntries(u, items, log)
	for k, i := range u.idx {
		e := entries[k]
		if e.id != "" {
			s.accepted(i, e.id, a.status, log)
			continue
		}
		code, reason := e.code, e.msg
		if code == "" && reason == "" {
			code, reason = "missing", "the aggregator's answer does not list this number, so it did not accept it"
		} else if reason == "" {
			reason = "the aggregator refused this number with code " + code
		}
		s.results[i] = sdk.SendResult{MessageID: s.msgs[i].ID, Outcome: sdk.Permanent, Code: code, Reason: reason}
	}
}

// noEntries fails the unit's messages when a successful answer lists no
// entries: with the error it carries, or as missing.
func (s *sendState) noEntries(u unit, a *answer, doc *node, log hclog.Logger) {
	code, msg := "", ""
	if s.c.s.errCode != nil {
		code, _ = s.c.s.errCode.value(doc)
	}
	if s.c.s.errMessage != nil {
		msg, _ = s.c.s.errMessage.value(doc)
	}
	if code != "" || msg != "" {
		log.Warn("aggregator answered the send request with an error", "status", a.status, "code", code, "error", msg)
		s.set(u, sdk.Permanent, code, fmt.Sprintf("aggregator refused the request: %s %s", code, msg), 0)
		return
	}
	r := s.op.resp
	log.Warn("send answer has no entries where response.items points; check the selector if this repeats", "items", r.items.String(), "answer", snippet(a.body))
	s.set(u, sdk.Permanent, "missing", fmt.Sprintf("the aggregator's answer (HTTP %d) lists no entries under %q, so no number was accepted: %s", a.status, r.items, snippet(a.body)), 0)
}

// answerEntry is what an answer says of one message: its id, or the
// error it names.
type answerEntry struct{ id, code, msg string }

// matchEntries matches the answer's entries to the unit's messages (by
// match_by), one entry per message, in the unit's order.
func (s *sendState) matchEntries(u unit, items []*node, log hclog.Logger) []answerEntry {
	r := s.op.resp
	pos := map[string]int{} // phone digits or our message id → position in u.idx
	for k, i := range u.idx {
		switch s.op.matchBy {
		case "phone":
			pos[digits(s.phones[i])] = k
		case "reference":
			pos[s.msgs[i].ID] = k
		}
	}
	entries := make([]answerEntry, len(u.idx))
	for n, item := range items {
		k := s.entryPosition(n, item, len(u.idx), pos)
		if k < 0 {
			log.Warn("aggregator answer has an entry that matches no message of the request; ignored", "entry", n, "match_by", s.op.matchBy)
			continue
		}
		var ec, em string
		if r.errorCode != nil {
			ec, _ = r.errorCode.value(item)
		}
		if r.errorMessage != nil {
			em, _ = r.errorMessage.value(item)
		}
		if ec != "" || em != "" {
			entries[k].code, entries[k].msg = ec, em
			continue
		}
		id, _ := r.id.value(item)
		if id == "" {
			entries[k].code, entries[k].msg = "no_id", "the aggregator's answer has no id for this message"
			continue
		}
		if entries[k].id != "" {
			log.Warn("aggregator answer has several ids for one message; keeping the first", "message_id", s.msgs[u.idx[k]].ID, "kept", entries[k].id, "ignored", id)
			continue
		}
		entries[k].id = id
	}
	return entries
}

// entryPosition is the position in the unit of the message the n-th entry
// is about, or -1 for none.
func (s *sendState) entryPosition(n int, item *node, units int, pos map[string]int) int {
	r := s.op.resp
	switch s.op.matchBy {
	case "order":
		if n < units {
			return n
		}
	case "phone":
		v, _ := r.phone.value(item)
		if got, ok := pos[digits(v)]; ok && digits(v) != "" {
			return got
		}
	case "reference":
		v, _ := r.reference.value(item)
		if got, ok := pos[v]; ok {
			return got
		}
	}
	return -1
}

// accepted records message i as accepted under id, unless the aggregator
// gave id to another message too: reports could then not be told apart,
// so the second is failed.
func (s *sendState) accepted(i int, id string, status int, log hclog.Logger) {
	s.mu.Lock()
	other, dup := s.used[id]
	if !dup {
		s.used[id] = i
	}
	s.mu.Unlock()
	if dup {
		log.Error("aggregator gave one id to two messages; the second is failed so reports cannot be mixed up", "provider_message_id", id, "first", s.msgs[other].ID, "second", s.msgs[i].ID)
		s.results[i] = sdk.SendResult{MessageID: s.msgs[i].ID, Outcome: sdk.Permanent, Code: "duplicate_id", Refusal: sdk.RefusalDuplicate,
			Reason: fmt.Sprintf("aggregator returned id %q for this message and for %s; it may have been sent", id, s.msgs[other].ID)}
		return
	}
	s.results[i] = sdk.SendResult{MessageID: s.msgs[i].ID, Outcome: sdk.Accepted, ProviderMessageID: id, Code: fmt.Sprint(status)}
	if s.msgs[i].From == "" {
		s.results[i].Sender = s.c.s.defaultSender // what the request carried; empty: the aggregator's own
	}
	s.p.remember(s.msgs[i].ID, id)
}

// QueryStatus asks the aggregator about up to batch_size ids per request.
// Ids the aggregator does not list are left out; statuses missing from
// status_map are reported as unknown and logged.
func (p *Provider) QueryStatus(ctx context.Context, ids []string) ([]sdk.StatusEvent, error) {
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	op := c.s.ops[opStatus]
	if op == nil {
		return nil, fmt.Errorf("status query: no status operation configured: %w", sdk.ErrUnsupported)
	}
	var uniq []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	var out []sdk.StatusEvent
	var errs []error
	chunks := 0
	for start := 0; start < len(uniq); start += op.batchSize {
		chunks++
		chunk := uniq[start:min(start+op.batchSize, len(uniq))]
		evs, err := p.queryChunk(ctx, c, op, chunk)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		out = append(out, evs...)
	}
	if len(errs) > 0 {
		if len(errs) == chunks || ctx.Err() != nil {
			return nil, fmt.Errorf("status query of %d ids: %w", len(uniq), errors.Join(errs...))
		}
		c.log.Warn("some status requests failed; their ids are asked again at the next poll", "failed_requests", len(errs), "requests", chunks, "error", errors.Join(errs...))
	}
	return out, nil
}

func (p *Provider) queryChunk(ctx context.Context, c *client, op *operation, ids []string) ([]sdk.StatusEvent, error) {
	wait, gen := p.throttleWait()
	if wait > 0 {
		return nil, errors.New(throttledReason(wait))
	}
	a, err := c.do(ctx, op, templateData{IDs: ids})
	if err != nil {
		return nil, err
	}
	if a.status < 200 || a.status > 299 {
		code, msg := c.upstreamError(op, a)
		if c.s.classify(a.status) == classThrottled {
			wait := p.throttleHit(c, gen, a.retryAfter)
			return nil, fmt.Errorf("status request throttled (HTTP %d %s: %s); next request allowed in %s", a.status, code, msg, wait.Round(time.Millisecond))
		}
		return nil, fmt.Errorf("status request refused: HTTP %d %s: %s", a.status, code, msg)
	}
	p.throttleOK(gen)
	doc, err := parseDocument(op.resp.format, a.body)
	if err != nil {
		return nil, fmt.Errorf("status answer (HTTP %d) cannot be read: %w: %s", a.status, err, snippet(a.body))
	}
	asked := map[string]bool{}
	for _, id := range ids {
		asked[id] = true
	}
	now := p.now()
	got := map[string]bool{}
	var out []sdk.StatusEvent
	items := op.resp.items.nodes(doc)
	if len(items) == 0 {
		c.log.Warn("status answer lists none of the asked ids where response.items points; check the selector if this repeats", "asked", len(ids), "items", op.resp.items.String(), "answer", snippet(a.body))
	}
	for _, item := range items {
		id, _ := op.resp.id.value(item)
		raw, _ := op.resp.status.value(item)
		switch {
		case !asked[id]:
			c.log.Warn("status answer names an id that was not asked for; ignored", "provider_message_id", id)
			continue
		case got[id]:
			continue
		case raw == "":
			c.log.Warn("status answer has no status for an id; asked again at the next poll", "provider_message_id", id)
			continue
		}
		got[id] = true
		st, ok := c.s.statusMap[strings.ToUpper(raw)]
		if !ok {
			c.log.Warn("aggregator reported a status missing from status_map; recorded as unknown", "provider_message_id", id, "provider_status", raw)
			st = sdk.StatusUnknown
		}
		ev := sdk.StatusEvent{ProviderMessageID: id, Status: st, ProviderStatus: raw, At: now}
		if op.resp.errorCode != nil {
			ev.ErrorCode, _ = op.resp.errorCode.value(item)
		}
		out = append(out, ev)
	}
	return out, nil
}

// Balance reports the account balance, cached for cache_refresh.
func (p *Provider) Balance(ctx context.Context) (sdk.Balance, error) {
	c, err := p.client()
	if err != nil {
		return sdk.Balance{}, err
	}
	op := c.s.ops[opBalance]
	if op == nil {
		return sdk.Balance{}, fmt.Errorf("balance: no balance operation configured: %w", sdk.ErrUnsupported)
	}
	return p.balance.get(ctx, p.now, c.s.cacheRefresh, c.log.With("operation", opBalance), func(ctx context.Context) (sdk.Balance, error) {
		doc, err := p.fetch(ctx, c, op)
		if err != nil {
			return sdk.Balance{}, err
		}
		amount, _ := op.resp.amount.value(doc)
		v, ok := new(big.Rat).SetString(strings.TrimSpace(amount))
		if !ok {
			return sdk.Balance{}, fmt.Errorf("balance answer: amount %q (selector %s) is not a decimal number", amount, op.resp.amount)
		}
		f, _ := v.Float64()
		cur := c.s.currency
		if op.resp.currency != nil {
			if got, _ := op.resp.currency.value(doc); strings.TrimSpace(got) != "" {
				cur = strings.ToUpper(strings.TrimSpace(got))
			}
		}
		if cur == "" {
			return sdk.Balance{}, fmt.Errorf("balance answer has no currency (selector %s); set currency in the provider config if the aggregator never reports it", op.resp.currency)
		}
		return sdk.Balance{Amount: f, Currency: cur}, nil
	})
}

// SenderIDs lists the sender names the account may use, cached for
// cache_refresh.
func (p *Provider) SenderIDs(ctx context.Context) ([]sdk.SenderID, error) {
	c, err := p.client()
	if err != nil {
		return nil, err
	}
	op := c.s.ops[opSenderIDs]
	if op == nil {
		return nil, fmt.Errorf("sender ids: no sender_ids operation configured: %w", sdk.ErrUnsupported)
	}
	ids, err := p.senders.get(ctx, p.now, c.s.cacheRefresh, c.log.With("operation", opSenderIDs), func(ctx context.Context) ([]sdk.SenderID, error) {
		doc, err := p.fetch(ctx, c, op)
		if err != nil {
			return nil, err
		}
		var out []sdk.SenderID
		seen := map[string]bool{}
		for _, item := range op.resp.items.nodes(doc) {
			v, _ := op.resp.value.value(item)
			v = strings.TrimSpace(v)
			if v == "" || seen[v] {
				continue
			}
			seen[v] = true
			out = append(out, senderID(v))
		}
		return out, nil
	})
	return append([]sdk.SenderID(nil), ids...), err
}

// senderID infers the kind the way handsets show senders: up to six digits
// is a short code, other digit strings are numbers, anything else a name.
func senderID(v string) sdk.SenderID {
	d := digits(v)
	switch {
	case d == strings.TrimPrefix(v, "+") && len(d) <= 6 && !strings.HasPrefix(v, "+"):
		return sdk.SenderID{Value: v, Kind: "shortcode"}
	case d == strings.TrimPrefix(v, "+"):
		return sdk.SenderID{Value: v, Kind: "number"}
	}
	return sdk.SenderID{Value: v, Kind: "alphanumeric"}
}

// fetch runs a read-only operation and parses its answer.
func (p *Provider) fetch(ctx context.Context, c *client, op *operation) (*node, error) {
	wait, gen := p.throttleWait()
	if wait > 0 {
		return nil, errors.New(throttledReason(wait))
	}
	a, err := c.do(ctx, op, templateData{})
	if err != nil {
		return nil, err
	}
	if a.status < 200 || a.status > 299 {
		code, msg := c.upstreamError(op, a)
		if c.s.classify(a.status) == classThrottled {
			wait := p.throttleHit(c, gen, a.retryAfter)
			return nil, fmt.Errorf("%s request throttled (HTTP %d %s: %s); next request allowed in %s", op.name, a.status, code, msg, wait.Round(time.Millisecond))
		}
		return nil, fmt.Errorf("%s request refused: HTTP %d %s: %s", op.name, a.status, code, msg)
	}
	p.throttleOK(gen)
	doc, err := parseDocument(op.resp.format, a.body)
	if err != nil {
		return nil, fmt.Errorf("%s answer (HTTP %d) cannot be read: %w: %s", op.name, a.status, err, snippet(a.body))
	}
	return doc, nil
}

// cache keeps one fetched value for a refresh period. One caller fetches
// at a time; the others wait for it (or give up with their context).
type cache[T any] struct {
	sem chan struct{}
	val T
	at  time.Time
	ok  bool
}

func newCache[T any]() cache[T] { return cache[T]{sem: make(chan struct{}, 1)} }

func (c *cache[T]) get(ctx context.Context, now func() time.Time, refresh time.Duration, log hclog.Logger, fetch func(context.Context) (T, error)) (T, error) {
	var zero T
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	defer func() { <-c.sem }()
	age := now().Sub(c.at)
	if c.ok && age < refresh {
		return c.val, nil
	}
	v, err := fetch(ctx)
	if err != nil {
		if c.ok && age < staleFactor*refresh {
			log.Warn("cannot refresh from the aggregator; serving the cached value", "age", age.Round(time.Second).String(), "error", err)
			return c.val, nil
		}
		return zero, err
	}
	c.val, c.at, c.ok = v, now(), true
	return v, nil
}
