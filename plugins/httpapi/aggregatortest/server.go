package aggregatortest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Op names an operation of the aggregator API.
type Op string

// The operations, each served as JSON under /api/... and as XML under /xml/...
const (
	OpSend      Op = "send"
	OpStatus    Op = "status"
	OpBalance   Op = "balance"
	OpSenderIDs Op = "sender_ids"
)

// Paths of the operations; the httpapi presets use the same ones.
var paths = map[string]Op{
	"/sms/send":    OpSend,
	"/sms/status":  OpStatus,
	"/balance":     OpBalance,
	"/alpha-names": OpSenderIDs,
}

// MaxPerRequest is the API's limit of phones per send and ids per status request.
const MaxPerRequest = 100

// DefaultDuplicateWindow is how long the same text to the same phone is refused with 453.
const DefaultDuplicateWindow = 2 * time.Minute

var digitsOnly = regexp.MustCompile(`^[0-9]{7,15}$`)

// Options configure a Server.
type Options struct {
	// Token is the API key; requests must carry it as "Authorization: Bearer",
	// as the password of Basic auth, as the X-API-Key header or as the
	// api_key query parameter. Empty accepts any request.
	Token string
	// DuplicateWindow is the anti-duplicate window; zero means 2 minutes,
	// negative disables it.
	DuplicateWindow time.Duration
	// EnrouteQueries is how many status queries answer ENROUTE before a
	// message's final status is reported.
	EnrouteQueries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Failure is an injected answer.
type Failure struct {
	Status     int    // HTTP status
	RetryAfter string // Retry-After header, if any
	Body       string // raw body; empty means the API's error document
}

// Message is one message the aggregator accepted.
type Message struct {
	ID     string
	Phone  string
	Text   string
	Sender string
	XML    bool
}

type record struct {
	Message
	final   string
	status  string
	queries int
	at      time.Time
}

// Server is the fake aggregator. Its zero value is not usable; call New.
type Server struct {
	*httptest.Server
	opts Options

	mu       sync.Mutex
	nextID   int
	msgs     map[string]*record
	order    []string
	fates    map[string]string // phone → final status
	drop     map[string]bool   // phones left out of send answers
	failures map[Op][]Failure
	holds    map[Op]chan struct{}
	requests map[Op]int
	arrived  chan struct{} // closed and replaced whenever a request arrives
	balance  [2]string
	senders  []string
	lastBody map[Op][]byte
	lastHdr  map[Op]http.Header
}

// New starts a fake aggregator on loopback; Close stops it.
func New(opts Options) *Server {
	if opts.DuplicateWindow == 0 {
		opts.DuplicateWindow = DefaultDuplicateWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		nextID:   100,
		msgs:     map[string]*record{},
		fates:    map[string]string{},
		drop:     map[string]bool{},
		failures: map[Op][]Failure{},
		holds:    map[Op]chan struct{}{},
		requests: map[Op]int{},
		arrived:  make(chan struct{}),
		balance:  [2]string{"8111.1700", "UAH"},
		senders:  []string{"test1", "test2"},
		lastBody: map[Op][]byte{},
		lastHdr:  map[Op]http.Header{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close releases held requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	for op, ch := range s.holds {
		close(ch)
		delete(s.holds, op)
	}
	s.mu.Unlock()
	s.Server.CloseClientConnections()
	s.Server.Close()
}

// FailNext makes the next len(f) requests of op answer with f, in order.
func (s *Server) FailNext(op Op, f ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[op] = append(s.failures[op], f...)
}

// Hold makes requests of op wait, without answering, until release is
// called or the client gives up: a slow aggregator.
func (s *Server) Hold(op Op) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.holds[op] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.holds[op] == ch {
				delete(s.holds, op)
				close(ch)
			}
			s.mu.Unlock()
		})
	}
}

// SetFate sets the final status (DELIVRD, EXPIRED, UNDELIV, REJECTD or any
// other word) reported for messages to phone (digits, no +).
func (s *Server) SetFate(phone, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fates[phone] = status
}

// Drop leaves phone out of send answers: a partial success.
func (s *Server) Drop(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop[phone] = true
}

// SetBalance sets what the balance operation reports.
func (s *Server) SetBalance(money, currency string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.balance = [2]string{money, currency}
}

// SetSenders sets the active alpha names.
func (s *Server) SetSenders(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.senders = append([]string(nil), names...)
}

// Messages returns the accepted messages in order of acceptance.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.msgs[id].Message)
	}
	return out
}

// Requests is how many requests of op arrived, answered or not.
func (s *Server) Requests(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

// WaitRequests blocks until at least n requests of op have arrived (held
// ones included) or ctx ends, so a test can release a held burst once all of
// it is in flight.
func (s *Server) WaitRequests(ctx context.Context, op Op, n int) error {
	for {
		s.mu.Lock()
		got, arrived := s.requests[op], s.arrived
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return fmt.Errorf("%d of %d %s requests arrived: %w", got, n, op, ctx.Err())
		}
	}
}

// LastRequest returns the body and headers of the last request of op.
func (s *Server) LastRequest(op Op) ([]byte, http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastBody[op], s.lastHdr[op]
}

func (s *Server) authorized(r *http.Request) bool {
	t := s.opts.Token
	if t == "" {
		return true
	}
	if r.Header.Get("Authorization") == "Bearer "+t || r.Header.Get("X-API-Key") == t || r.URL.Query().Get("api_key") == t {
		return true
	}
	if _, pw, ok := r.BasicAuth(); ok && pw == t {
		return true
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	isXML := strings.HasPrefix(r.URL.Path, "/xml/")
	op, ok := paths[strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/xml"), "/api")]
	if !ok || !(strings.HasPrefix(r.URL.Path, "/api/") || isXML) {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	s.mu.Lock()
	s.requests[op]++
	close(s.arrived)
	s.arrived = make(chan struct{})
	s.lastBody[op], s.lastHdr[op] = body, r.Header.Clone()
	hold := s.holds[op]
	var fail *Failure
	if f := s.failures[op]; len(f) > 0 {
		fail = &f[0]
		s.failures[op] = f[1:]
	}
	s.mu.Unlock()

	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	a := &answerer{w: w, xml: isXML}
	if fail != nil {
		if fail.RetryAfter != "" {
			w.Header().Set("Retry-After", fail.RetryAfter)
		}
		if fail.Body != "" {
			a.raw(fail.Status, fail.Body)
		} else {
			a.fail(fail.Status, http.StatusText(fail.Status))
		}
		return
	}
	if !s.authorized(r) {
		a.fail(http.StatusUnauthorized, "user authentication error")
		return
	}
	switch op {
	case OpSend:
		s.send(a, body)
	case OpStatus:
		s.status(a, body)
	case OpBalance:
		s.mu.Lock()
		b := s.balance
		s.mu.Unlock()
		a.balance(b[0], b[1])
	case OpSenderIDs:
		s.mu.Lock()
		names := append([]string(nil), s.senders...)
		s.mu.Unlock()
		a.senders(names)
	}
}

type sendRequest struct {
	Phone         []string `json:"phone" xml:"phones>phone"`
	Message       string   `json:"message" xml:"message"`
	SrcAddr       string   `json:"src_addr" xml:"src_addr"`
	IntegrationID string   `json:"integration_id" xml:"integration_id"`
}

type statusRequest struct {
	IDs []string `json:"id_sms" xml:"id_sms>id"`
}

func decode(isXML bool, body []byte, v any) error {
	if isXML {
		return xml.Unmarshal(body, v)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (s *Server) send(a *answerer, body []byte) {
	var req sendRequest
	if err := decode(a.xml, body, &req); err != nil {
		a.fail(http.StatusBadRequest, "input validation error: "+err.Error())
		return
	}
	switch {
	case len(req.Phone) == 0 || len(req.Phone) > MaxPerRequest:
		a.fail(http.StatusBadRequest, fmt.Sprintf("input validation error: phone must list 1 to %d numbers, got %d", MaxPerRequest, len(req.Phone)))
		return
	case req.Message == "":
		a.fail(http.StatusBadRequest, "input validation error: message is empty")
		return
	case req.SrcAddr == "":
		a.fail(http.StatusBadRequest, "input validation error: src_addr is empty")
		return
	}
	seen := map[string]bool{}
	for _, p := range req.Phone {
		if !digitsOnly.MatchString(p) {
			a.fail(http.StatusBadRequest, fmt.Sprintf("input validation error: phone %q is not digits", p))
			return
		}
		if seen[p] {
			a.fail(http.StatusBadRequest, fmt.Sprintf("input validation error: phone %s listed twice", p))
			return
		}
		seen[p] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if s.opts.DuplicateWindow > 0 {
		for _, id := range s.order {
			m := s.msgs[id]
			if seen[m.Phone] && m.Text == req.Message && m.Sender == req.SrcAddr && now.Sub(m.at) < s.opts.DuplicateWindow {
				a.fail(453, "duplication of a message in an interval of less than 2 minutes")
				return
			}
		}
	}
	info := map[string]string{}
	var ids []string
	for _, p := range req.Phone {
		if s.drop[p] {
			continue
		}
		id := strconv.Itoa(s.nextID)
		s.nextID++
		fate := s.fates[p]
		if fate == "" {
			fate = "DELIVRD"
		}
		s.msgs[id] = &record{Message: Message{ID: id, Phone: p, Text: req.Message, Sender: req.SrcAddr, XML: a.xml}, final: fate, status: "ENROUTE", at: now}
		s.order = append(s.order, id)
		info[id] = p
		ids = append(ids, id)
	}
	a.info(info, ids)
}

func (s *Server) status(a *answerer, body []byte) {
	var req statusRequest
	if err := decode(a.xml, body, &req); err != nil {
		a.fail(http.StatusBadRequest, "input validation error: "+err.Error())
		return
	}
	if len(req.IDs) == 0 || len(req.IDs) > MaxPerRequest {
		a.fail(http.StatusBadRequest, fmt.Sprintf("input validation error: id_sms must list 1 to %d ids, got %d", MaxPerRequest, len(req.IDs)))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	info := map[string]string{}
	var ids []string
	for _, id := range req.IDs {
		m, ok := s.msgs[id]
		if !ok {
			continue
		}
		if m.queries >= s.opts.EnrouteQueries {
			m.status = m.final
		}
		m.queries++
		if _, dup := info[id]; !dup {
			ids = append(ids, id)
		}
		info[id] = m.status
	}
	a.info(info, ids)
}

// answerer writes the API's documents in JSON or XML.
type answerer struct {
	w   http.ResponseWriter
	xml bool
}

func (a *answerer) raw(status int, body string) {
	if a.xml {
		a.w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	} else {
		a.w.Header().Set("Content-Type", "application/json")
	}
	a.w.WriteHeader(status)
	_, _ = io.WriteString(a.w, body)
}

func (a *answerer) fail(status int, msg string) {
	if a.xml {
		a.raw(status, fmt.Sprintf("<response><error><code>%d</code><message>%s</message></error></response>", status, esc(msg)))
		return
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": status, "message": msg}})
	a.raw(status, string(b))
}

// info writes {"success_request":{"info":{id: value}}}, or in XML
// <info><sms id="ID">value</sms>...</info>, ids in the given order.
func (a *answerer) info(info map[string]string, ids []string) {
	if a.xml {
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><response><success_request><info>`)
		for _, id := range ids {
			fmt.Fprintf(&b, `<sms id="%s">%s</sms>`, esc(id), esc(info[id]))
		}
		b.WriteString(`</info></success_request></response>`)
		a.raw(http.StatusOK, b.String())
		return
	}
	b, _ := json.Marshal(map[string]any{"success_request": map[string]any{"info": info}})
	a.raw(http.StatusOK, string(b))
}

func (a *answerer) balance(money, currency string) {
	if a.xml {
		a.raw(http.StatusOK, fmt.Sprintf(`<response><success_request><info><money>%s</money><currency>%s</currency></info></success_request></response>`, esc(money), esc(currency)))
		return
	}
	b, _ := json.Marshal(map[string]any{"success_request": map[string]any{"info": map[string]string{"money": money, "currency": currency}}})
	a.raw(http.StatusOK, string(b))
}

func (a *answerer) senders(names []string) {
	if a.xml {
		var b strings.Builder
		b.WriteString(`<response><success_request><info>`)
		for _, n := range names {
			fmt.Fprintf(&b, `<alpha_name>%s</alpha_name>`, esc(n))
		}
		b.WriteString(`</info></success_request></response>`)
		a.raw(http.StatusOK, b.String())
		return
	}
	if names == nil {
		names = []string{}
	}
	b, _ := json.Marshal(map[string]any{"success_request": map[string]any{"info": names}})
	a.raw(http.StatusOK, string(b))
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
