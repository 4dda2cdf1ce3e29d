package twiliotest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Report is one status the fake reports for a message, with the ErrorCode
// Twilio adds to failed and undelivered reports.
type Report struct {
	Status    string
	ErrorCode string
}

// Answer replaces the fake's answer to a send: an error document built from
// Code and Message, or RawBody verbatim when set.
type Answer struct {
	HTTPStatus int
	Code       int
	Message    string
	RetryAfter string // the Retry-After header, if any
	RawBody    string
}

// Options configure a Server. Zero values give a working account.
type Options struct {
	// AccountSID and AuthToken are the credentials the fake accepts and
	// signs callbacks with. Defaults: "AC" + 32 zeros and "test-auth-token".
	AccountSID string
	AuthToken  string
	// Reports returns what to report, in order, for a message accepted for
	// the number to; nil means sent then delivered. Reports go to the send's
	// StatusCallback, one after the other, after ReportDelay each.
	Reports     func(to string) []Report
	ReportDelay time.Duration
	// Balance and Currency are what Balance.json answers (default "25.50" USD).
	Balance  string
	Currency string
}

// Message is a send the fake accepted.
type Message struct {
	SID                 string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	StatusCallback      string
	ValidityPeriod      string
	Status              string
	ErrorCode           string
	// Form is every field of the request as received.
	Form url.Values
}

// Delivery is the outcome of one callback the fake posted.
type Delivery struct {
	SID        string
	Status     string
	URL        string
	HTTPStatus int // 0 when no answer came
	Err        error
}

// Server is the fake API on a loopback port.
type Server struct {
	// URL is the base_url to configure the provider with.
	URL string

	opts   Options
	srv    *httptest.Server
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	messages   map[string]*Message
	order      []string
	answers    []Answer
	latency    time.Duration
	deliveries []Delivery
	changed    chan struct{} // closed and replaced when a request arrives or a delivery is recorded
	requests   int
}

// NewServer starts a fake on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	if opts.AccountSID == "" {
		opts.AccountSID = "AC" + strings.Repeat("0", 32)
	}
	if opts.AuthToken == "" {
		opts.AuthToken = "test-auth-token"
	}
	if opts.Balance == "" {
		opts.Balance = "25.50"
	}
	if opts.Currency == "" {
		opts.Currency = "USD"
	}
	s := &Server{
		opts:     opts,
		client:   &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		messages: map[string]*Message{},
		changed:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", s.send)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{file}", s.fetch)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Balance.json", s.balance)
	mux.HandleFunc("GET /2010-04-01/Accounts/{file}", s.account)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	return s
}

// AccountSID returns the account the fake accepts.
func (s *Server) AccountSID() string { return s.opts.AccountSID }

// AuthToken returns the token the fake accepts and signs with.
func (s *Server) AuthToken() string { return s.opts.AuthToken }

// Close stops pending callbacks and the server.
func (s *Server) Close() {
	s.cancel()
	// Handlers finish first, so none can start a callback goroutine after
	// the wait below has begun.
	s.srv.Close()
	s.wg.Wait()
	s.client.CloseIdleConnections()
}

// AnswerNext makes the next len(answers) sends get these answers instead of
// being accepted.
func (s *Server) AnswerNext(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, answers...)
}

// SetLatency delays every answer by d (until the caller gives up).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Messages returns the accepted sends, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.order))
	for _, sid := range s.order {
		out = append(out, *s.messages[sid])
	}
	return out
}

// Requests returns how many API requests arrived, answered or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// AwaitRequests waits until at least n API requests arrived.
func (s *Server) AwaitRequests(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, changed := s.requests, s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d requests arrived: %w", got, n, ctx.Err())
		case <-changed:
		}
	}
}

// AwaitDeliveries waits until at least n callbacks were posted (answered or
// failed) and returns them all.
func (s *Server) AwaitDeliveries(ctx context.Context, n int) ([]Delivery, error) {
	for {
		s.mu.Lock()
		got, changed := append([]Delivery(nil), s.deliveries...), s.changed
		s.mu.Unlock()
		if len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("%d of %d callbacks posted: %w", len(got), n, ctx.Err())
		case <-changed:
		}
	}
}

// Sign computes an X-Twilio-Signature the way Twilio does: the URL, then
// each POST parameter name and value in name order, HMAC-SHA1, base64.
func Sign(authToken, fullURL string, form url.Values) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	sort.Strings(names)
	data := fullURL
	for _, k := range names {
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			data += k + v
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// PostSigned posts form to target signed with the fake's auth token, as
// Twilio posts callbacks, and returns the answer's status and body.
func (s *Server) PostSigned(ctx context.Context, target string, form url.Values) (int, string, error) {
	return s.post(ctx, target, form, Sign(s.opts.AuthToken, target, form))
}

// PostWithSignature posts form with the given signature header value
// (empty: none), for forged and unsigned callbacks.
func (s *Server) PostWithSignature(ctx context.Context, target string, form url.Values, signature string) (int, string, error) {
	return s.post(ctx, target, form, signature)
}

func (s *Server) post(ctx context.Context, target string, form url.Values, signature string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", fmt.Errorf("build callback to %s: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("post callback to %s: %w", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, "", fmt.Errorf("read answer from %s: %w", target, err)
	}
	return resp.StatusCode, string(b), nil
}

// StatusForm is the form Twilio posts to a StatusCallback.
func (s *Server) StatusForm(m Message, r Report) url.Values {
	f := url.Values{
		"MessageSid":    {m.SID},
		"SmsSid":        {m.SID},
		"MessageStatus": {r.Status},
		"SmsStatus":     {r.Status},
		"AccountSid":    {s.opts.AccountSID},
		"From":          {m.From},
		"To":            {m.To},
		"ApiVersion":    {"2010-04-01"},
	}
	if m.MessagingServiceSID != "" {
		f.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if r.ErrorCode != "" {
		f.Set("ErrorCode", r.ErrorCode)
	}
	return f
}

// Report posts a signed status callback for an accepted message now, and
// records the message's new status.
func (s *Server) Report(ctx context.Context, sid string, r Report) (int, error) {
	s.mu.Lock()
	m, ok := s.messages[sid]
	var snapshot Message
	if ok {
		m.Status, m.ErrorCode = r.Status, r.ErrorCode
		snapshot = *m
	}
	s.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("no message %s was sent to the fake", sid)
	}
	if snapshot.StatusCallback == "" {
		return 0, fmt.Errorf("message %s was sent without a StatusCallback", sid)
	}
	code, _, err := s.PostSigned(ctx, snapshot.StatusCallback, s.StatusForm(snapshot, r))
	s.record(Delivery{SID: sid, Status: r.Status, URL: snapshot.StatusCallback, HTTPStatus: code, Err: err})
	return code, err
}

// Inbound posts a signed inbound message to target (a provider's
// ".../hooks/receive" URL) and returns the message sid and the answer.
func (s *Server) Inbound(ctx context.Context, target, from, to, body string) (sid string, status int, answer string, err error) {
	sid = newSID("SM")
	form := url.Values{
		"MessageSid": {sid}, "SmsMessageSid": {sid}, "SmsSid": {sid},
		"AccountSid": {s.opts.AccountSID}, "From": {from}, "To": {to}, "Body": {body},
		"NumSegments": {"1"}, "NumMedia": {"0"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	status, answer, err = s.PostSigned(ctx, target, form)
	return sid, status, answer, err
}

func (s *Server) record(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliveries = append(s.deliveries, d)
	close(s.changed)
	s.changed = make(chan struct{})
}

// authorized checks basic auth and the account in the path, answering 401
// like Twilio when they do not match.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, account string) bool {
	user, pass, ok := r.BasicAuth()
	if ok && user == s.opts.AccountSID && pass == s.opts.AuthToken && account == s.opts.AccountSID {
		return true
	}
	writeError(w, Answer{HTTPStatus: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
	return false
}

// begin counts the request and applies the latency; false means the caller
// went away or the fake is closing.
func (s *Server) begin(r *http.Request) bool {
	s.mu.Lock()
	s.requests++
	close(s.changed)
	s.changed = make(chan struct{})
	d := s.latency
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-s.ctx.Done():
	}
	return false
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	if !s.begin(r) {
		return
	}
	account := r.PathValue("account")
	if !s.authorized(w, r, account) {
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, Answer{HTTPStatus: http.StatusBadRequest, Code: 20001, Message: "bad form: " + err.Error()})
		return
	}
	f := r.PostForm
	s.mu.Lock()
	if len(s.answers) > 0 {
		a := s.answers[0]
		s.answers = s.answers[1:]
		s.mu.Unlock()
		writeError(w, a)
		return
	}
	s.mu.Unlock()
	to, from, svc, body := f.Get("To"), f.Get("From"), f.Get("MessagingServiceSid"), f.Get("Body")
	switch {
	case to == "":
		writeError(w, Answer{HTTPStatus: 400, Code: 21604, Message: "A 'To' phone number is required."})
		return
	case !e164.MatchString(to):
		writeError(w, Answer{HTTPStatus: 400, Code: 21211, Message: fmt.Sprintf("The 'To' number %s is not a valid phone number.", to)})
		return
	case from == "" && svc == "":
		writeError(w, Answer{HTTPStatus: 400, Code: 21603, Message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message"})
		return
	case body == "":
		writeError(w, Answer{HTTPStatus: 400, Code: 21602, Message: "Message body is required."})
		return
	case !validValidityPeriod(f):
		writeError(w, Answer{HTTPStatus: 400, Code: 21624, Message: "Validity period can only be set to integers between 1 and 36,000 seconds."})
		return
	}
	m := &Message{SID: newSID("SM"), To: to, From: from, MessagingServiceSID: svc, Body: body,
		StatusCallback: f.Get("StatusCallback"), ValidityPeriod: f.Get("ValidityPeriod"), Status: "queued", Form: f}
	s.mu.Lock()
	s.messages[m.SID] = m
	s.order = append(s.order, m.SID)
	snapshot := *m
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(resource(s.opts.AccountSID, snapshot))

	if snapshot.StatusCallback == "" {
		return
	}
	reports := []Report{{Status: "sent"}, {Status: "delivered"}}
	if s.opts.Reports != nil {
		reports = s.opts.Reports(to)
	}
	if len(reports) == 0 {
		return
	}
	s.wg.Go(func() { s.reportAll(snapshot.SID, reports) })
}

// reportAll posts the reports in order, stopping when the fake closes.
func (s *Server) reportAll(sid string, reports []Report) {
	for _, r := range reports {
		if s.opts.ReportDelay > 0 {
			t := time.NewTimer(s.opts.ReportDelay)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if s.ctx.Err() != nil {
			return
		}
		_, _ = s.Report(s.ctx, sid, r)
	}
}

func (s *Server) fetch(w http.ResponseWriter, r *http.Request) {
	if !s.begin(r) || !s.authorized(w, r, r.PathValue("account")) {
		return
	}
	sid, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	s.mu.Lock()
	m, found := s.messages[sid]
	var snapshot Message
	if found {
		snapshot = *m
	}
	s.mu.Unlock()
	if !ok || !found {
		writeError(w, Answer{HTTPStatus: http.StatusNotFound, Code: 20404, Message: "The requested resource was not found"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resource(s.opts.AccountSID, snapshot))
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request) {
	if !s.begin(r) || !s.authorized(w, r, r.PathValue("account")) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"account_sid": s.opts.AccountSID, "balance": s.opts.Balance, "currency": s.opts.Currency})
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	account, ok := strings.CutSuffix(r.PathValue("file"), ".json")
	if !s.begin(r) || !s.authorized(w, r, account) {
		return
	}
	if !ok {
		writeError(w, Answer{HTTPStatus: http.StatusNotFound, Code: 20404, Message: "The requested resource was not found"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"sid": account, "status": "active", "type": "Full"})
}

func resource(account string, m Message) map[string]any {
	var code any
	if m.ErrorCode != "" {
		code = m.ErrorCode
	}
	return map[string]any{
		"sid": m.SID, "account_sid": account, "to": m.To, "from": m.From, "body": m.Body,
		"status": m.Status, "error_code": code, "error_message": nil, "num_segments": "1",
		"messaging_service_sid": m.MessagingServiceSID, "price": nil, "api_version": "2010-04-01",
		"date_updated": time.Now().UTC().Format(time.RFC1123Z),
		"uri":          "/2010-04-01/Accounts/" + account + "/Messages/" + m.SID + ".json",
	}
}

func writeError(w http.ResponseWriter, a Answer) {
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.HTTPStatus)
	if a.RawBody != "" {
		_, _ = io.WriteString(w, a.RawBody)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": a.Code, "message": a.Message, "status": a.HTTPStatus,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", a.Code),
	})
}

func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// validValidityPeriod reports whether the form's ValidityPeriod, when
// present, is an integer from 1 to 36000 (seconds), as Twilio requires.
func validValidityPeriod(f url.Values) bool {
	if _, ok := f["ValidityPeriod"]; !ok {
		return true
	}
	n, err := strconv.Atoi(f.Get("ValidityPeriod"))
	return err == nil && n >= 1 && n <= 36000
}
