package httpapi

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Presets are settings documents the provider block's config is merged over.
//
//go:embed presets/*.json
var presetFiles embed.FS

// Limits for settings; values outside them are configuration mistakes.
const (
	defaultTimeout      = 10 * time.Second
	defaultCacheRefresh = 5 * time.Minute
	// defaultMaxThrottleWait caps how long a 429 stops every request of the
	// provider (Retry-After included): long enough to relieve an aggregator,
	// short enough that sends and polling resume within a minute.
	defaultMaxThrottleWait = time.Minute
	defaultMaxBatch        = 100
	defaultConcurrency     = 4
	maxBatchLimit          = 1000
	maxConcurrency         = 32
)

// The operation names under "operations".
const (
	opSend      = "send"
	opStatus    = "status"
	opBalance   = "balance"
	opSenderIDs = "sender_ids"
)

// class is what an HTTP status means for the messages of a request.
type class string

const (
	classPermanent class = "permanent" // the messages fail
	classTemporary class = "temporary" // retried; the outcome may be unknown
	classThrottled class = "throttled" // retried after Retry-After; the whole provider waits
	classDuplicate class = "duplicate" // the upstream's anti-duplicate window; never resent blindly
)

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// rawSettings mirrors the settings document after the preset is merged in.
type rawSettings struct {
	Preset        string                   `json:"preset"`
	BaseURL       string                   `json:"base_url"`
	Auth          rawAuth                  `json:"auth"`
	Timeout       *sdk.Duration            `json:"timeout"`
	MaxBatchSize  int                      `json:"max_batch_size"`
	Concurrency   int                      `json:"concurrency"`
	PhoneFormat   string                   `json:"phone_format"`
	DefaultSender string                   `json:"default_sender"`
	CacheRefresh  *sdk.Duration            `json:"cache_refresh"`
	MaxThrottle   *sdk.Duration            `json:"max_throttle_wait"`
	Currency      string                   `json:"currency"`
	StatusMap     map[string]string        `json:"status_map"`
	HTTPStatus    map[string]string        `json:"http_status"`
	Errors        rawErrors                `json:"errors"`
	Vars          map[string]string        `json:"vars"`
	Operations    map[string]*rawOperation `json:"operations"`
}

type rawAuth struct {
	Type     string     `json:"type"`
	Token    sdk.Secret `json:"token"`
	Header   string     `json:"header"`
	Prefix   string     `json:"prefix"`
	Username string     `json:"username"`
	Password sdk.Secret `json:"password"`
	Param    string     `json:"param"`
}

type rawErrors struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type rawOperation struct {
	Method      string            `json:"method"`
	URL         string            `json:"url"`
	Format      string            `json:"format"`
	Body        string            `json:"body"`
	Query       map[string]string `json:"query"`
	Headers     map[string]string `json:"headers"`
	ContentType string            `json:"content_type"`
	BatchSize   int               `json:"batch_size"`
	GroupBy     string            `json:"group_by"`
	MatchBy     string            `json:"match_by"`
	Response    rawResponse       `json:"response"`
}

type rawResponse struct {
	Format       string  `json:"format"`
	Items        *string `json:"items"`
	ID           *string `json:"id"`
	Phone        *string `json:"phone"`
	Reference    *string `json:"reference"`
	Status       *string `json:"status"`
	ErrorCode    *string `json:"error_code"`
	ErrorMessage *string `json:"error_message"`
	Amount       *string `json:"amount"`
	Currency     *string `json:"currency"`
	Value        *string `json:"value"`
}

// settings is the checked, compiled configuration.
type settings struct {
	auth          rawAuth
	timeout       time.Duration
	maxBatch      int
	concurrency   int
	phoneFormat   string
	defaultSender string
	cacheRefresh  time.Duration
	// maxThrottleWait caps the wait after a 429, Retry-After included.
	maxThrottleWait time.Duration
	currency        string
	statusMap       map[string]sdk.Status // keys upper case
	httpStatus      map[string]class      // "453", "5xx"
	errCode         *selector
	errMessage      *selector
	vars            map[string]string
	ops             map[string]*operation
}

// operation is one configured upstream call.
type operation struct {
	name        string
	method      string
	url         *url.URL
	format      format
	body        *template.Template
	query       []queryParam
	headers     map[string]string
	contentType string
	batchSize   int
	groupBy     string
	matchBy     string
	resp        response
}

type queryParam struct {
	name string
	tmpl *template.Template
}

// response holds an operation's selectors; nil means not configured.
type response struct {
	format                              format
	items, id, phone, reference, status *selector
	errorCode, errorMessage             *selector
	amount, currency, value             *selector
}

// parseSettings merges the settings over their preset and checks the result.
// Every error names the offending field, because an operator reads it at
// start-up.
func parseSettings(doc json.RawMessage) (*settings, error) {
	user, err := decodeObject(doc)
	if err != nil {
		return nil, fmt.Errorf("decode settings: %w", err)
	}
	merged := map[string]any{}
	if p, ok := user["preset"]; ok && p != nil {
		name, ok := p.(string)
		if !ok {
			return nil, fmt.Errorf("setting preset: want a preset name such as \"aggregator002\", got %v", p)
		}
		if name != "" {
			if merged, err = loadPreset(name); err != nil {
				return nil, fmt.Errorf("setting preset: %w", err)
			}
		}
	}
	merged = mergeObjects(merged, user)
	b, err := json.Marshal(merged)
	if err != nil {
		return nil, fmt.Errorf("encode merged settings: %w", err)
	}
	var raw rawSettings
	if err := sdk.DecodeSettings(b, &raw); err != nil {
		return nil, err
	}
	return compile(&raw)
}

// decodeObject reads a JSON object; empty or null settings are an empty object.
func decodeObject(doc json.RawMessage) (map[string]any, error) {
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("settings must be an object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the settings object")
	}
	return m, nil
}

// PresetNames lists the built-in presets.
func PresetNames() []string {
	entries, _ := presetFiles.ReadDir("presets")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	return names
}

func loadPreset(name string) (map[string]any, error) {
	if !slices.Contains(PresetNames(), name) {
		return nil, fmt.Errorf("unknown preset %q; presets: %s", name, strings.Join(PresetNames(), ", "))
	}
	b, err := presetFiles.ReadFile("presets/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("read preset %q: %w", name, err)
	}
	return decodeObject(b)
}

// mergeObjects lays over on base: objects merge key by key, null removes a
// key, anything else replaces.
func mergeObjects(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		bo, bok := out[k].(map[string]any)
		oo, ook := v.(map[string]any)
		if bok && ook {
			out[k] = mergeObjects(bo, oo)
			continue
		}
		out[k] = v
	}
	return out
}

func compile(raw *rawSettings) (*settings, error) {
	s := &settings{
		timeout:         defaultTimeout,
		maxBatch:        defaultMaxBatch,
		concurrency:     defaultConcurrency,
		phoneFormat:     "digits",
		defaultSender:   raw.DefaultSender,
		cacheRefresh:    defaultCacheRefresh,
		maxThrottleWait: defaultMaxThrottleWait,
		vars:            raw.Vars,
		statusMap:       map[string]sdk.Status{},
		httpStatus:      map[string]class{},
		ops:             map[string]*operation{},
	}
	if s.vars == nil {
		s.vars = map[string]string{}
	}
	base, err := compileBaseURL(raw.BaseURL)
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return s.compileLimits(raw) },
		func() error { return s.compileFormats(raw) },
		func() (err error) { s.auth, err = checkAuth(raw.Auth); return err },
		func() error { return s.compileStatusMaps(raw) },
		func() error { return s.compileErrors(raw.Errors.Code, raw.Errors.Message) },
		func() error { return s.compileOperations(raw.Operations, base) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// compileBaseURL is base_url, which relative operation URLs join; nil when
// unset.
func compileBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("setting base_url: %q is not an http(s) URL such as \"https://api.example.com\"", redactURL(raw))
	}
	if u.User != nil {
		return nil, errors.New("setting base_url: put credentials in auth, not in the URL")
	}
	return u, nil
}

// compileLimits sets the timeouts, batch size and concurrency given, each
// within its range.
func (s *settings) compileLimits(raw *rawSettings) error {
	for _, d := range []struct {
		field  string
		raw    *sdk.Duration
		lo, hi time.Duration
		to     *time.Duration
	}{
		{"timeout", raw.Timeout, 100 * time.Millisecond, 5 * time.Minute, &s.timeout},
		{"cache_refresh", raw.CacheRefresh, time.Second, 24 * time.Hour, &s.cacheRefresh},
		{"max_throttle_wait", raw.MaxThrottle, time.Second, maxRetryAfter, &s.maxThrottleWait},
	} {
		if d.raw == nil {
			continue
		}
		if err := sdk.InRange(d.field, *d.raw, sdk.Duration(d.lo), sdk.Duration(d.hi)); err != nil {
			return err
		}
		*d.to = d.raw.D()
	}
	if raw.MaxBatchSize != 0 {
		if raw.MaxBatchSize < 1 || raw.MaxBatchSize > maxBatchLimit {
			return fmt.Errorf("setting max_batch_size: %d is out of range, want 1 to %d", raw.MaxBatchSize, maxBatchLimit)
		}
		s.maxBatch = raw.MaxBatchSize
	}
	if raw.Concurrency != 0 {
		if raw.Concurrency < 1 || raw.Concurrency > maxConcurrency {
			return fmt.Errorf("setting concurrency: %d is out of range, want 1 to %d", raw.Concurrency, maxConcurrency)
		}
		s.concurrency = raw.Concurrency
	}
	return nil
}

// compileFormats sets how phone numbers are written and the balance's
// currency.
func (s *settings) compileFormats(raw *rawSettings) error {
	switch raw.PhoneFormat {
	case "":
	case "digits", "e164":
		s.phoneFormat = raw.PhoneFormat
	default:
		return fmt.Errorf("setting phone_format: %q is not one of \"digits\" (380501234567) or \"e164\" (+380501234567)", raw.PhoneFormat)
	}
	if raw.Currency != "" {
		if !currencyPattern.MatchString(raw.Currency) {
			return fmt.Errorf("setting currency: %q is not a three-letter ISO 4217 code such as \"UAH\"", raw.Currency)
		}
		s.currency = raw.Currency
	}
	return nil
}

// compileStatusMaps sets what the aggregator's statuses and HTTP statuses
// mean.
func (s *settings) compileStatusMaps(raw *rawSettings) error {
	for k, v := range raw.StatusMap {
		st := sdk.Status(v)
		if !st.Valid() {
			return fmt.Errorf("setting status_map[%q]: %q is not a status; want one of queued, sent, delivered, failed, expired, rejected, undeliverable, unknown", k, v)
		}
		s.statusMap[strings.ToUpper(k)] = st
	}
	for k, v := range raw.HTTPStatus {
		if !httpStatusKey(k) {
			return fmt.Errorf("setting http_status[%q]: want an HTTP status such as \"453\" or a class such as \"5xx\"", k)
		}
		switch c := class(v); c {
		case classPermanent, classTemporary, classThrottled, classDuplicate:
			s.httpStatus[strings.ToLower(k)] = c
		default:
			return fmt.Errorf("setting http_status[%q]: %q is not one of permanent, temporary, throttled, duplicate", k, v)
		}
	}
	return nil
}

// compileErrors parses where an error answer keeps its code and message.
func (s *settings) compileErrors(code, message string) error {
	var err error
	if code != "" {
		if s.errCode, err = optSelector("errors.code", &code); err != nil {
			return fmt.Errorf("setting %w", err)
		}
	}
	if message != "" {
		if s.errMessage, err = optSelector("errors.message", &message); err != nil {
			return fmt.Errorf("setting %w", err)
		}
	}
	return nil
}

// compileOperations compiles the operations given, send at least.
func (s *settings) compileOperations(raw map[string]*rawOperation, base *url.URL) error {
	for name := range raw {
		switch name {
		case opSend, opStatus, opBalance, opSenderIDs:
		default:
			return fmt.Errorf("setting operations: unknown operation %q (known: send, status, balance, sender_ids)", name)
		}
	}
	for _, name := range []string{opSend, opStatus, opBalance, opSenderIDs} {
		ro := raw[name]
		if ro == nil {
			continue
		}
		op, err := compileOperation(name, ro, base, s)
		if err != nil {
			return fmt.Errorf("setting operations.%s.%w", name, err)
		}
		s.ops[name] = op
	}
	if s.ops[opSend] == nil {
		return errors.New("setting operations.send: missing; set preset = \"aggregator002\" or describe the send request")
	}
	return nil
}

func checkAuth(a rawAuth) (rawAuth, error) {
	switch a.Type {
	case "", "none":
		a.Type = "none"
	case "bearer":
		if a.Token == "" {
			return a, errors.New("setting auth.token: empty; auth type \"bearer\" needs the API token")
		}
	case "header":
		if a.Header == "" || a.Token == "" {
			return a, errors.New("setting auth: type \"header\" needs header (e.g. \"X-API-Key\") and token")
		}
		if http.CanonicalHeaderKey(a.Header) == "" {
			return a, fmt.Errorf("setting auth.header: %q is not a header name", a.Header)
		}
	case "basic":
		if a.Username == "" {
			return a, errors.New("setting auth.username: empty; auth type \"basic\" needs username and password")
		}
	case "query":
		if a.Token == "" {
			return a, errors.New("setting auth.token: empty; auth type \"query\" needs the API key")
		}
		if a.Param == "" {
			a.Param = "api_key"
		}
	default:
		return a, fmt.Errorf("setting auth.type: %q is not one of none, bearer, header, basic, query", a.Type)
	}
	return a, nil
}

func httpStatusKey(k string) bool {
	if len(k) == 3 && (k[1:] == "xx" || k[1:] == "XX") && k[0] >= '1' && k[0] <= '5' {
		return true
	}
	n, err := strconv.Atoi(k)
	return err == nil && n >= 100 && n <= 599
}

func compileOperation(name string, ro *rawOperation, base *url.URL, s *settings) (*operation, error) {
	op := &operation{name: name, headers: ro.Headers, contentType: ro.ContentType}
	var err error
	if op.method, err = compileMethod(ro.Method); err != nil {
		return nil, err
	}
	if op.url, err = compileURL(ro.URL, base); err != nil {
		return nil, err
	}
	steps := []func() error{
		func() error { return op.compileBody(ro) },
		func() error { return op.compileQuery(ro.Query) },
		func() error { return checkHeaders(ro.Headers, s.auth.Type) },
		func() error { return op.compileBatching(ro, s.maxBatch) },
		func() error { return op.compileResponse(&ro.Response) },
		func() error { return op.requireSelectors(s) },
		func() error { return probe(op, s) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return op, nil
}

// compileMethod is the operation's HTTP method, POST when unset.
func compileMethod(method string) (string, error) {
	m := strings.ToUpper(method)
	switch m {
	case "":
		return http.MethodPost, nil
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch:
		return m, nil
	}
	return "", fmt.Errorf("method: %q is not one of GET, POST, PUT, PATCH", method)
}

// compileURL is the operation's absolute http(s) URL; a relative one is
// joined to base_url.
func compileURL(raw string, base *url.URL) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("url: empty; give the operation's URL, absolute or relative to base_url")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %q is not a URL: %w", redactURL(raw), err)
	}
	if !u.IsAbs() {
		if base == nil {
			return nil, fmt.Errorf("url: %q is relative but base_url is not set", raw)
		}
		rel := u
		u = base.JoinPath(rel.Path)
		u.RawQuery = rel.RawQuery
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: %q is not an http(s) URL", redactURL(u.String()))
	}
	return u, nil
}

// compileBody sets the request body's format, template and content type:
// a body without a format is JSON, a format other than none needs a body.
func (op *operation) compileBody(ro *rawOperation) error {
	op.format = format(ro.Format)
	switch op.format {
	case "":
		op.format = formatNone
		if ro.Body != "" {
			op.format = formatJSON
		}
	case formatJSON, formatXML, formatNone:
	default:
		return fmt.Errorf("format: %q is not one of json, xml, none", ro.Format)
	}
	if op.format == formatNone {
		if ro.Body != "" {
			return errors.New("body: set, but format is \"none\"; set format to json or xml")
		}
		return nil
	}
	if ro.Body == "" {
		return fmt.Errorf("body: empty; a %s request needs a body template", op.format)
	}
	var err error
	if op.body, err = template.New(op.name).Funcs(templateFuncs).Option("missingkey=zero").Parse(ro.Body); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if op.contentType == "" {
		switch op.format {
		case formatJSON:
			op.contentType = "application/json; charset=utf-8"
		case formatXML:
			op.contentType = "text/xml; charset=utf-8"
		}
	}
	return nil
}

// compileQuery parses the query parameters' templates, in name order.
func (op *operation) compileQuery(query map[string]string) error {
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t, err := template.New(op.name + "?" + k).Funcs(templateFuncs).Option("missingkey=zero").Parse(query[k])
		if err != nil {
			return fmt.Errorf("query[%q]: %w", k, err)
		}
		op.query = append(op.query, queryParam{name: k, tmpl: t})
	}
	return nil
}

// checkHeaders refuses an Authorization header beside an auth block, which
// would send two sets of credentials.
func checkHeaders(headers map[string]string, authType string) error {
	for k := range headers {
		if strings.EqualFold(k, "Authorization") && authType != "none" {
			return fmt.Errorf("headers[%q]: conflicts with auth; configure credentials under auth", k)
		}
	}
	return nil
}

// compileBatching sets how many messages (or ids) one request carries and,
// for send, how messages are grouped into requests and results matched to
// them.
func (op *operation) compileBatching(ro *rawOperation, maxBatch int) error {
	op.batchSize = ro.BatchSize
	if op.batchSize == 0 {
		op.batchSize = maxBatch
		if op.name == opStatus {
			op.batchSize = 100
		}
	}
	if op.batchSize < 1 || op.batchSize > maxBatchLimit {
		return fmt.Errorf("batch_size: %d is out of range, want 1 to %d", ro.BatchSize, maxBatchLimit)
	}
	if op.name != opSend {
		if ro.GroupBy != "" || ro.MatchBy != "" {
			return errors.New("group_by/match_by: only the send operation takes them")
		}
		return nil
	}
	op.groupBy, op.matchBy = cmp.Or(ro.GroupBy, "text"), cmp.Or(ro.MatchBy, "phone")
	if op.groupBy != "text" && op.groupBy != "none" {
		return fmt.Errorf("group_by: %q is not one of \"text\" (one request per sender and text) or \"none\" (messages of any text in one request)", ro.GroupBy)
	}
	if op.matchBy != "phone" && op.matchBy != "order" && op.matchBy != "reference" {
		return fmt.Errorf("match_by: %q is not one of phone, order, reference", ro.MatchBy)
	}
	return nil
}

// compileResponse sets the answer's format (the request's, JSON for a
// request without a body) and parses its selectors.
func (op *operation) compileResponse(r *rawResponse) error {
	op.resp.format = format(r.Format)
	switch op.resp.format {
	case "":
		op.resp.format = op.format
		if op.format == formatNone {
			op.resp.format = formatJSON
		}
	case formatJSON, formatXML:
	default:
		return fmt.Errorf("response.format: %q is not one of json, xml", r.Format)
	}
	for _, f := range []struct {
		field string
		in    *string
		out   **selector
	}{
		{"items", r.Items, &op.resp.items}, {"id", r.ID, &op.resp.id}, {"phone", r.Phone, &op.resp.phone},
		{"reference", r.Reference, &op.resp.reference}, {"status", r.Status, &op.resp.status},
		{"error_code", r.ErrorCode, &op.resp.errorCode}, {"error_message", r.ErrorMessage, &op.resp.errorMessage},
		{"amount", r.Amount, &op.resp.amount}, {"currency", r.Currency, &op.resp.currency}, {"value", r.Value, &op.resp.value},
	} {
		var err error
		if *f.out, err = optSelector("response."+f.field, f.in); err != nil {
			return err
		}
	}
	return nil
}

// requireSelectors checks that the operation's answer names what the
// operation reads from it: all missing ones at once.
func (op *operation) requireSelectors(s *settings) error {
	need := func(field string, sel *selector) error {
		if sel == nil {
			return fmt.Errorf("response.%s: missing; the %s operation needs it", field, op.name)
		}
		return nil
	}
	var errs []error
	switch op.name {
	case opSend:
		errs = append(errs, need("items", op.resp.items), need("id", op.resp.id))
		switch op.matchBy {
		case "phone":
			errs = append(errs, need("phone", op.resp.phone))
		case "reference":
			errs = append(errs, need("reference", op.resp.reference))
		}
	case opStatus:
		errs = append(errs, need("items", op.resp.items), need("id", op.resp.id), need("status", op.resp.status))
	case opBalance:
		errs = append(errs, need("amount", op.resp.amount))
		if s.currency == "" {
			errs = append(errs, need("currency", op.resp.currency))
		}
	case opSenderIDs:
		errs = append(errs, need("items", op.resp.items))
		if op.resp.value == nil {
			op.resp.value = &selector{last: "#text"}
		}
	}
	return errors.Join(errs...)
}

func optSelector(field string, v *string) (*selector, error) {
	if v == nil {
		return nil, nil
	}
	sel, err := parseSelector(*v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return &sel, nil
}

// probeText holds every character a body template must escape, so a
// template that forgets {{json .Text}} or {{xml .Text}} fails at start-up
// rather than on the first customer message with a quote in it.
const probeText = "Probe \"quoted\" \\ back <b>tag</b> & amp; 'apos'\nnew line ü € 😀"

// probeValidUntil is the sample message's validity.
var probeValidUntil = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// probe renders the operation with a tricky message and checks that the
// body is well formed in its format.
func probe(op *operation, s *settings) error {
	if op.body == nil {
		return nil
	}
	data := templateData{
		Phones: []string{"380501234567", "380501234568"},
		Text:   probeText,
		From:   "Probe&<\"'>",
		IDs:    []string{"1\"<&", "2"},
		Auth:   authData{Token: "tok\"<&", Username: "user\"<&", Password: "pass\"<&"},
		Vars:   s.vars,
		Messages: []messageData{
			{ID: "msg_1", To: "+380501234567", Phone: "380501234567", From: "Probe&<\"'>", Text: probeText,
				ValiditySeconds: 3600, ValidUntil: probeValidUntil},
			{ID: "msg_2", To: "+380501234568", Phone: "380501234568", From: "Probe", Text: probeText},
		},
		ValiditySeconds: 3600,
		ValidUntil:      probeValidUntil,
	}
	var b bytes.Buffer
	if err := op.body.Execute(&b, data); err != nil {
		return fmt.Errorf("body: rendering a sample request failed: %w", err)
	}
	switch op.format {
	case formatJSON:
		if !json.Valid(b.Bytes()) {
			return fmt.Errorf("body: a sample message with quotes, backslashes and line breaks renders invalid JSON; insert values with {{json .Text}} (which adds the quotes), not \"{{.Text}}\":\n%s", b.String())
		}
	case formatXML:
		dec := xml.NewDecoder(&b)
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("body: a sample message with <, & and quotes renders invalid XML (%v); insert values with {{xml .Text}}", err)
			}
		}
	}
	return nil
}

// redactURL drops credentials and the query (which often carries an API key)
// from a URL before it is shown in an error or a log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	return u.String()
}
