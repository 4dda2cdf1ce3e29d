package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

const (
	// maxAnswer bounds how much of an answer is read; aggregator answers for
	// 100 messages are a few KiB.
	maxAnswer = 4 << 20
	// maxRetryAfter caps what an upstream may ask us to wait.
	maxRetryAfter = time.Hour
	// Throttle backoff when a 429 carries no Retry-After: doubling from
	// minThrottle per burst, with jitter, up to max_throttle_wait.
	minThrottle = time.Second
	// snippetLen is how much of a bad answer goes into errors and logs.
	snippetLen = 200
)

// templateData is what body and query templates see.
type templateData struct {
	// Phones are the destinations in the configured phone_format.
	Phones []string
	// Text and From are the message text and sender (the first message's,
	// which all share with group_by = "text").
	Text string
	From string
	// Messages are the messages of the request, for APIs that take a list of
	// {to, text} objects.
	Messages []messageData
	// ValiditySeconds and ValidUntil are the shortest validity among the
	// request's messages, for APIs with one validity per request; see
	// messageData.
	ValiditySeconds int
	ValidUntil      time.Time
	// IDs are the provider message ids of a status request.
	IDs []string
	// Auth exposes the credentials, for APIs that want them in the body.
	Auth authData
	// Vars are the operator's own values from settings.
	Vars map[string]string
}

type messageData struct {
	ID    string // our message id, usable as the client reference
	To    string // E.164
	Phone string // in phone_format
	From  string
	Text  string
	// ValiditySeconds is what is left of the message's validity when the
	// request is rendered, in whole seconds rounded down (at least 1), for
	// a TTL parameter; 0 when the message has none. ValidUntil is the same
	// as an instant in UTC (zero when none), for APIs that take a time.
	ValiditySeconds int
	ValidUntil      time.Time
}

// validityData fills in a message's validity as seen at now.
func validityData(until, now time.Time) (int, time.Time) {
	if until.IsZero() {
		return 0, time.Time{}
	}
	return max(int(until.Sub(now)/time.Second), 1), until.UTC()
}

type authData struct {
	Token, Username, Password string
}

// templateFuncs escape values per format: json encodes any value as JSON
// (quotes included), xml escapes text for element content and attributes.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	"xml": func(v any) (string, error) {
		var b bytes.Buffer
		if err := xml.EscapeText(&b, []byte(fmt.Sprint(v))); err != nil {
			return "", err
		}
		return b.String(), nil
	},
	"join": strings.Join,
}

// answer is a completed HTTP exchange.
type answer struct {
	status int
	body   []byte
	// retryAfter is the Retry-After header as sent: it is read against the
	// provider's clock when the throttle records the answer, so an HTTP
	// date means the same wait whatever time passed in between.
	retryAfter string
}

// exchangeError is a failed exchange; attempted says whether the request
// may have reached the upstream (so its outcome is unknown).
type exchangeError struct {
	op        string
	attempted bool
	err       error
}

func (e *exchangeError) Error() string {
	if e.attempted {
		return fmt.Sprintf("%s request: no answer, the outcome is unknown: %v", e.op, e.err)
	}
	return fmt.Sprintf("%s request not sent: %v", e.op, e.err)
}

func (e *exchangeError) Unwrap() error { return e.err }

// buildRequest renders the operation's request for data.
func (c *client) buildRequest(ctx context.Context, op *operation, data templateData) (*http.Request, error) {
	data.Auth = authData{Token: c.s.auth.Token.Reveal(), Username: c.s.auth.Username, Password: c.s.auth.Password.Reveal()}
	data.Vars = c.s.vars
	var body io.Reader
	if op.body != nil {
		var b bytes.Buffer
		if err := op.body.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("render %s body: %w", op.name, err)
		}
		body = &b
	}
	u := *op.url
	q := u.Query()
	for _, p := range op.query {
		var b strings.Builder
		if err := p.tmpl.Execute(&b, data); err != nil {
			return nil, fmt.Errorf("render %s query %s: %w", op.name, p.name, err)
		}
		q.Set(p.name, b.String())
	}
	if c.s.auth.Type == "query" {
		q.Set(c.s.auth.Param, c.s.auth.Token.Reveal())
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, op.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", op.name, err)
	}
	if op.contentType != "" && body != nil {
		req.Header.Set("Content-Type", op.contentType)
	}
	switch op.resp.format {
	case formatXML:
		req.Header.Set("Accept", "application/xml, text/xml")
	default:
		req.Header.Set("Accept", "application/json")
	}
	for k, v := range op.headers {
		req.Header.Set(k, v)
	}
	switch a := c.s.auth; a.Type {
	case "bearer":
		req.Header.Set("Authorization", "Bearer "+a.Token.Reveal())
	case "header":
		req.Header.Set(a.Header, a.Prefix+a.Token.Reveal())
	case "basic":
		req.SetBasicAuth(a.Username, a.Password.Reveal())
	}
	return req, nil
}

// do runs one exchange under the configured timeout.
func (c *client) do(ctx context.Context, op *operation, data templateData) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.s.timeout)
	defer cancel()
	req, err := c.buildRequest(ctx, op, data)
	if err != nil {
		return nil, &exchangeError{op: op.name, err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &exchangeError{op: op.name, attempted: !notSent(err), err: describeTransport(err, c.s.timeout)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, &exchangeError{op: op.name, attempted: true, err: fmt.Errorf("read answer (HTTP %d): %w", resp.StatusCode, describeTransport(err, c.s.timeout))}
	}
	if len(body) > maxAnswer {
		return nil, &exchangeError{op: op.name, attempted: true, err: fmt.Errorf("answer (HTTP %d) is larger than %d bytes", resp.StatusCode, maxAnswer)}
	}
	return &answer{status: resp.StatusCode, body: body, retryAfter: resp.Header.Get("Retry-After")}, nil
}

// notSent reports whether err happened before the request could reach the
// upstream: it could not connect at all.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

func describeTransport(err error, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer within the %s timeout: %w", timeout, err)
	}
	return err
}

// parseRetryAfter reads seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	d, _ := sdk.ParseRetryAfter(v, now)
	return min(d, maxRetryAfter)
}

// classify says what a non-2xx status means; configured entries win over the
// defaults (429 throttled, 5xx and 408 temporary, everything else permanent).
func (s *settings) classify(status int) class {
	if c, ok := s.httpStatus[strconv.Itoa(status)]; ok {
		return c
	}
	if c, ok := s.httpStatus[fmt.Sprintf("%dxx", status/100)]; ok {
		return c
	}
	switch {
	case status == http.StatusTooManyRequests:
		return classThrottled
	case status >= 500, status == http.StatusRequestTimeout:
		return classTemporary
	}
	return classPermanent
}

// upstreamError extracts the upstream's own error code and message from an
// answer, falling back to a snippet of the body.
func (c *client) upstreamError(op *operation, a *answer) (code, msg string) {
	if doc, err := parseDocument(op.resp.format, a.body); err == nil {
		if c.s.errCode != nil {
			code, _ = c.s.errCode.value(doc)
		}
		if c.s.errMessage != nil {
			msg, _ = c.s.errMessage.value(doc)
		}
	}
	if msg == "" {
		msg = snippet(a.body)
	}
	return code, msg
}

func snippet(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > snippetLen {
		s = s[:snippetLen] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}

// throttle remembers that the upstream asked us to slow down, so every
// operation of this provider waits, not just the one request that was told.
//
// Backoff grows per burst, not per answer: requests that were already in
// flight when a step began are answered 429 by the same overload, so their
// answers may lengthen the wait to what their Retry-After says but never add
// a step. Each request notes the step it was sent under (generation) for
// that.
type throttle struct {
	until      time.Time
	strikes    int // steps since the last success
	generation int // incremented by each step
}

// hit records a 429 answering a request sent under generation gen and
// returns how long to wait. Retry-After (already bounded by maxRetryAfter)
// and the doubling backoff used without one are both capped at limit.
func (t *throttle) hit(now time.Time, gen int, retryAfter, limit time.Duration) time.Duration {
	sameBurst := gen != t.generation
	d := min(retryAfter, limit)
	if !sameBurst {
		t.generation++
		t.strikes++
		if d <= 0 {
			d = min(minThrottle<<min(t.strikes-1, 16), limit)
			d += time.Duration(rand.Int64N(int64(d)/5 + 1)) // jitter so providers don't retry in lockstep
			d = min(d, limit)
		}
	}
	if u := now.Add(d); u.After(t.until) {
		t.until = u
	}
	return t.wait(now)
}

// ok records a success answering a request sent under generation gen; one
// sent before the latest step says nothing about the upstream now.
func (t *throttle) ok(gen int) {
	if gen == t.generation {
		t.strikes = 0
	}
}

// wait is how long calls must still hold off; zero when they may go.
func (t *throttle) wait(now time.Time) time.Duration {
	if now.Before(t.until) {
		return t.until.Sub(now)
	}
	return 0
}
