package config

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/number"
	"github.com/smsrouter/smsrouter/routing"
)

// Database drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults for what the file leaves out.
const (
	DefaultListen     = "127.0.0.1:3005"
	DefaultSQLitePath = "./data/smsrouter.db"
)

// Options tell Parse about the binary it runs in.
type Options struct {
	// BuiltinKinds are the plugin kinds this binary ships, e.g. "sandbox",
	// "smpp". A provider's plugin attribute must name one of them.
	BuiltinKinds []string
	// LookupEnv resolves env("NAME") in the file; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Config is a parsed and checked configuration file.
type Config struct {
	// Filename is the name the file was read from (as given to Load or Parse).
	Filename  string
	Server    Server
	Database  Database
	Providers []Provider
	// Routing is the routing block: time zone, currency and conversion
	// rates, operator prefixes.
	Routing routing.Settings
	// Warnings are what lint found: things that load but are probably not
	// meant (see routing.Lint and the rate-sheet checks); nil when none.
	Warnings *Error
	// RoutingCases is the routing block's cases file (joined to the config
	// file's directory):
	// messages with the route each must get, which config validate runs.
	// "" when there is none.
	RoutingCases string
	// Routes are the decoded route blocks, in file order.
	Routes []routing.RouteConfig
	// Table is Routes compiled against Providers and Routing; never nil on
	// success.
	Table *routing.Table
	// OTP is the otp block: code length, lifetime and message template.
	OTP OTP
	// API is the api block: request limits, duplicate window, senders and
	// account credit defaults.
	API API
	// Dispatch is the dispatch block: send timeout and claim lease.
	Dispatch Dispatch
	// Retention is the retention block: how long finished webhook
	// deliveries and provider event ids are kept.
	Retention Retention
	// Webhooks is the webhooks block: which addresses webhooks may go to.
	Webhooks Webhooks
	// Secrets is the secrets block: the keys that seal texts and webhook
	// secrets at rest, or the key file holding them.
	Secrets Secrets
	// Numbers is the numbers block: leases of numbers to receive on.
	Numbers Numbers
	// InboundRules are the decoded inbound blocks, in file order.
	InboundRules []inbound.RuleConfig
	// Inbound is InboundRules compiled: who owns an inbound message to a
	// number nobody holds, whether to look for a code in it, and which
	// webhook hears of it. Never nil on success.
	Inbound *inbound.Rules
}

// Server is the server block.
type Server struct {
	// Listen is the HTTP API's host:port; default 127.0.0.1:3005.
	Listen string
	// PublicURL is how providers and phones reach this server, without a
	// trailing slash. It defaults to http:// plus Listen, with an unspecified
	// host (":3005", "0.0.0.0:3005") shown as 127.0.0.1.
	PublicURL string
	// Metrics is the metrics block: where GET /metrics is served.
	Metrics Metrics
	// Role is what the node does: RoleAll (the default) or RoleAPI.
	Role string
	// RoleRange is where role was set, for errors that involve it.
	RoleRange hcl.Range
	// Transport holds the listener's timeouts, per-client connection cap
	// and TLS.
	Transport Transport
	// Console is the console block: the web console's settings.
	Console Console
}

// Node roles.
const (
	// RoleAll accepts messages and serves the API, dispatches, polls
	// providers for statuses and delivers webhooks.
	RoleAll = "all"
	// RoleAPI accepts messages and serves the API only; the nodes sharing
	// its PostgreSQL database with role "all" send what it accepts and
	// deliver the webhooks. API nodes are added where the request rate,
	// not the sending, needs the CPU.
	RoleAPI = "api"
)

// Database is the database block.
type Database struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string
	// DSN is the PostgreSQL connection string, or for SQLite the database
	// file's absolute path (relative paths are resolved from the config
	// file's directory; ":memory:" and "file:" URIs are passed through).
	DSN string
}

// DefaultPollStatusAfter is poll_status_after when a provider block does
// not set it: a report that has not come a quarter of an hour after the
// provider took the message is rarely still on its way (most come within
// seconds to minutes), and asking later bounds how long a report lost with a
// node stays missing.
const DefaultPollStatusAfter = 15 * time.Minute

// Provider is one provider block.
type Provider struct {
	// Name is the block label, e.g. provider "smpp-eu-1".
	Name string
	// Plugin is the built-in plugin kind; "" when Path is set.
	Plugin string
	// Path is the external plugin binary's absolute path; "" when Plugin is
	// set. Relative paths are resolved from the config file's directory.
	Path string
	// SHA256 is the lower-case hex digest Path must have, or "". The plugin
	// host checks it when it launches the binary, so a binary swapped after
	// validation is still caught.
	SHA256 string
	// Settings is the config attribute as a JSON object; "{}" when absent.
	Settings json.RawMessage
	// PollStatusAfter makes the host ask the provider for the status of
	// messages still without a final report this long after it accepted
	// them (for upstreams without callbacks, and reports lost with a
	// crashed plugin or a node that died). It applies only to providers
	// whose plugin answers status queries. DefaultPollStatusAfter when the
	// block does not set it; zero ("off") means never.
	PollStatusAfter time.Duration
	// PollStatusFor is how long after acceptance polling gives up and marks
	// the message unknown; zero means the host's default (48h). Between
	// polls the wait doubles from PollStatusAfter up to 30 minutes.
	PollStatusFor time.Duration
	// Pricing is the provider's price list from its pricing block (inline
	// prices override the rates file's).
	Pricing routing.Pricing
	// Limits are the provider's sending limits from its limits block.
	Limits Limits
	// Numbers are the provider's numbers that can receive, for the
	// inventory: E.164, or "55555/US" for a short code.
	Numbers []string
	// AssignmentPrices is the pricing block's assignment attribute: what
	// leasing one of the provider's numbers costs.
	AssignmentPrices NumberPrices
	// FailoverOn are the refusal codes (message.Refusal) that send a message
	// on to its route's next candidate instead of failing it, unless the
	// route sets its own.
	FailoverOn []string
	// Range is the block header's position in the file.
	Range hcl.Range
	// SettingRanges are the positions of the config block's settings.
	SettingRanges SettingRanges
}

// Error lists every problem found in a configuration file, one per line as
// "file:line:column: summary: detail".
type Error struct {
	Diagnostics hcl.Diagnostics
}

func (e *Error) Error() string {
	lines := make([]string, 0, len(e.Diagnostics))
	for _, d := range e.Diagnostics {
		line := d.Summary
		if d.Detail != "" {
			line += ": " + d.Detail
		}
		if d.Severity == hcl.DiagWarning {
			line = "warning: " + line
		}
		if d.Subject != nil {
			line = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the diagnostics, e.g. for errors.As(err, &hcl.Diagnostics{}).
func (e *Error) Unwrap() error { return e.Diagnostics }

func newError(diags hcl.Diagnostics, filename string) *Error {
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		if c.Subject == nil {
			// Problems of the whole file (no default route in an empty file)
			// still get a position, so every line reads file:line:column.
			c.Subject = &hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		}
		out[i] = &c
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Subject.Start, out[j].Subject.Start
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return &Error{Diagnostics: out}
}

// Load reads and parses the configuration file at path.
func Load(path string, opts Options) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return Parse(src, path, opts)
}

// Parse parses and checks src, which was read from filename; relative paths
// in it are resolved from filename's directory. On failure the error is an
// *Error listing every problem found.
func Parse(src []byte, filename string, opts Options) (*Config, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	dir, err := filepath.Abs(filepath.Dir(filename))
	if err != nil {
		return nil, fmt.Errorf("resolve directory of config file %s: %w", filename, err)
	}
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, newError(quotingHints(diags, src), filename)
	}
	d := &decoder{
		src:      src,
		filename: filename,
		dir:      dir,
		opts:     opts,
		ctx: &hcl.EvalContext{Functions: map[string]function.Function{
			"env": envFunc(opts.LookupEnv),
		}},
	}
	cfg := d.decode(file.Body)
	d.webhooksFromEnv(&cfg.Webhooks)
	d.checkInboundWebhooks(cfg.Webhooks)
	if d.diags.HasErrors() {
		return nil, newError(d.diags, filename)
	}
	if len(d.warnings) > 0 {
		cfg.Warnings = newError(d.warnings, filename)
	}
	return cfg, nil
}

// envFunc is env("NAME") or env("NAME", "default"). Values never appear in
// error messages, since they are often credentials.
func envFunc(lookup func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default if given and the variable is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a variable name and at most one default value")
			}
			name := args[0].AsString()
			if v, ok := lookup(name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, fmt.Errorf("environment variable %s is not set; set it, or give a default as env(%q, \"...\")", name, name)
		},
	})
}

var (
	rootSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "server"},
		{Type: "database"},
		{Type: "provider", LabelNames: []string{"name"}},
		{Type: "route", LabelNames: []string{"name"}},
		{Type: "inbound", LabelNames: []string{"name"}},
		{Type: "routing"},
		{Type: "otp"},
		{Type: "api"},
		{Type: "dispatch"},
		{Type: "numbers"},
		{Type: "retention"},
		{Type: "webhooks"},
		{Type: "secrets"},
	}}
	serverSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "listen"}, {Name: "public_url"}, {Name: "role"},
		{Name: "read_header_timeout"}, {Name: "read_timeout"}, {Name: "write_timeout"}, {Name: "idle_timeout"},
		{Name: "max_conns_per_client"}, {Name: "trusted_proxies"},
	}, Blocks: []hcl.BlockHeaderSchema{{Type: "metrics"}, {Type: "tls"}, {Type: "console"}}}
	databaseSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "driver", Required: true}, {Name: "path"}, {Name: "dsn"},
	}}
	providerSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "plugin"}, {Name: "path"}, {Name: "sha256"}, {Name: "config"}, {Name: "poll_status_after"}, {Name: "poll_status_for"},
		{Name: "failover_on"}, {Name: "numbers"},
	}, Blocks: []hcl.BlockHeaderSchema{{Type: "pricing"}, {Type: "limits"}}}
	routeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "default"}, {Name: "candidates", Required: true}, {Name: "match"}, {Name: "filter"},
		{Name: "strategy"}, {Name: "weights"}, {Name: "failover_on"}, {Name: "hold_until"},
	}, Blocks: []hcl.BlockHeaderSchema{{Type: "quiet_hours"}}}
	quietHoursSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "from", Required: true}, {Name: "to", Required: true}, {Name: "zone"},
	}}

	// Names end up in URLs (/api/v1/providers/{name}/hooks), metrics and
	// logs, so they stay plain.
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	sha256Pattern = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

type decoder struct {
	src      []byte
	filename string
	dir      string
	opts     Options
	ctx      *hcl.EvalContext
	diags    hcl.Diagnostics
	// pricedOps are the operators prices name, checked once the whole
	// file is read.
	pricedOps []pricedOp
	// warnings are problems that do not stop the file loading (lint):
	// config validate shows them, and fails on them with --strict.
	warnings hcl.Diagnostics
	// apiCurrency is the api block's currency attribute, checked against
	// the routing currency once both blocks are read.
	apiCurrency *hcl.Attribute
	// inboundHooks are the inbound rules' own webhooks, checked once the
	// webhooks block is read.
	inboundHooks []inboundHook
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng.Ptr(),
	})
}

func (d *decoder) decode(body hcl.Body) *Config {
	content, diags := body.Content(rootSchema)
	d.diags = append(d.diags, diags...)
	cfg := d.defaults()
	seen := blocksSeen{blocks: map[string]*hcl.Block{}, providers: map[string]*hcl.Block{}, routesOK: true}
	for _, b := range content.Blocks {
		d.block(b, cfg, &seen)
	}
	d.compileInbound(cfg)
	d.settle(cfg)
	d.checkAcrossBlocks(cfg)
	// A route that did not decode would make the route set look wrong in
	// ways that are only echoes of its own error (no default, default not
	// last), so the set is checked once every route block decodes.
	if seen.routesOK {
		d.compileRoutes(cfg, seen.providerSpecs)
	}
	return cfg
}

// defaults is the config an empty file gives: every block's defaults.
func (d *decoder) defaults() *Config {
	return &Config{
		Filename:  d.filename,
		Server:    Server{Listen: DefaultListen, Role: RoleAll, Transport: DefaultTransport()},
		Database:  Database{Driver: DriverSQLite, DSN: d.resolve(DefaultSQLitePath)},
		OTP:       DefaultOTP(),
		API:       DefaultAPI(),
		Retention: DefaultRetention(),
		Numbers:   DefaultNumbers(),
	}
}

// blocksSeen is what decode remembers across top-level blocks: which
// single blocks and providers are defined (to report duplicates), the
// providers routing is compiled against, and whether every route decoded.
type blocksSeen struct {
	blocks        map[string]*hcl.Block
	providers     map[string]*hcl.Block
	providerSpecs []routing.ProviderConfig
	routesOK      bool
}

// block decodes one top-level block into cfg.
func (d *decoder) block(b *hcl.Block, cfg *Config, seen *blocksSeen) {
	switch b.Type {
	case "server", "database", "routing", "otp", "api", "dispatch", "retention", "webhooks", "secrets", "numbers":
		if prev := seen.blocks[b.Type]; prev != nil {
			d.errorf(b.DefRange, "Duplicate "+b.Type+" block",
				"a %s block is already defined on line %d; merge the two", b.Type, prev.DefRange.Start.Line)
			return
		}
		seen.blocks[b.Type] = b
		d.singleBlock(b, cfg)
	case "provider":
		d.providerBlock(b, cfg, seen)
	case "route":
		d.checkName(b, "route")
		rc, ok := d.route(b)
		if !ok {
			seen.routesOK = false
			return
		}
		cfg.Routes = append(cfg.Routes, rc)
	case "inbound":
		d.checkName(b, "inbound")
		if rc, ok := d.inboundBlock(b); ok {
			cfg.InboundRules = append(cfg.InboundRules, rc)
		}
	}
}

// singleBlock decodes a block the file may hold at most once.
func (d *decoder) singleBlock(b *hcl.Block, cfg *Config) {
	switch b.Type {
	case "server":
		d.server(b, &cfg.Server)
	case "database":
		d.database(b, &cfg.Database)
	case "otp":
		d.otp(b, &cfg.OTP)
	case "api":
		d.api(b, &cfg.API)
	case "dispatch":
		d.dispatch(b, &cfg.Dispatch)
	case "retention":
		d.retention(b, &cfg.Retention)
	case "webhooks":
		d.webhooks(b, &cfg.Webhooks)
	case "secrets":
		d.secrets(b, &cfg.Secrets)
	case "numbers":
		d.numbers(b, &cfg.Numbers)
	default:
		cfg.RoutingCases = d.routing(b, &cfg.Routing)
	}
}

// providerBlock decodes a provider block, refusing a second one of the
// same name.
func (d *decoder) providerBlock(b *hcl.Block, cfg *Config, seen *blocksSeen) {
	name := b.Labels[0]
	d.checkName(b, "provider")
	if prev := seen.providers[name]; prev != nil {
		d.errorf(b.LabelRanges[0], "Duplicate provider",
			"provider %q is already defined on line %d; provider names must be unique", name, prev.DefRange.Start.Line)
		return
	}
	seen.providers[name] = b
	// Known even when the block has errors, so routes naming it do
	// not add a second, misleading "unknown provider" error.
	p, ok := d.provider(b)
	seen.providerSpecs = append(seen.providerSpecs, routing.ProviderConfig{Name: name, Kind: providerKind(p), Pricing: p.Pricing,
		FailoverOn: p.FailoverOn})
	if ok {
		cfg.Providers = append(cfg.Providers, p)
	}
}

// settle fills the settings whose defaults depend on other blocks.
func (d *decoder) settle(cfg *Config) {
	if cfg.Server.PublicURL == "" {
		cfg.Server.PublicURL = defaultPublicURL(cfg.Server.Listen, cfg.Server.Transport.TLS != nil)
	}
	cfg.Server.Console.settle(cfg.Server.PublicURL)
	if cfg.Secrets.KeyFile == "" {
		cfg.Secrets.KeyFile = d.defaultKeyFile(cfg.Database)
	}
}

// checkAcrossBlocks reports settings that are fine alone but contradict
// another block.
func (d *decoder) checkAcrossBlocks(cfg *Config) {
	if cfg.Server.Role == RoleAPI && cfg.Database.Driver != DriverPostgres {
		d.errorf(cfg.Server.RoleRange, "API role needs PostgreSQL",
			"a node with role %q leaves sending to other nodes, which only a shared PostgreSQL database lets them do; with %s nothing would ever send what this node accepts. Use driver = %q, or remove the role",
			RoleAPI, cfg.Database.Driver, DriverPostgres)
	}
	if routingCurrency := cmp.Or(cfg.Routing.Currency, routing.DefaultCurrency); d.apiCurrency != nil && cfg.API.Currency != "" && cfg.API.Currency != routingCurrency {
		d.errorf(d.apiCurrency.Expr.Range(), "Currency differs from the routing currency",
			"accounts are charged the routing prices, which are in %s; set routing { currency = %q } or remove the api block's currency", routingCurrency, cfg.API.Currency)
	}
}

// compileRoutes compiles and lints the route set against the providers,
// and checks the operators prices name.
func (d *decoder) compileRoutes(cfg *Config, providerSpecs []routing.ProviderConfig) {
	cfg.Routing.RecipientZone = number.TimeZone // for holds with zone = "recipient"
	spec := routing.Spec{Routes: cfg.Routes, Providers: providerSpecs, Settings: cfg.Routing}
	table, err := routing.Compile(spec)
	d.warnings = append(d.warnings, routing.Lint(spec, lintKnowledge())...)
	for _, p := range d.pricedOps {
		d.checkOperator(p.at, p.country, p.operator, cfg.Routing.OperatorPrefixes)
	}
	if ce, ok := err.(*routing.CompileError); ok {
		d.diags = append(d.diags, ce.Diagnostics...)
	} else if err != nil {
		d.errorf(hcl.Range{Filename: d.filename, Start: hcl.InitialPos, End: hcl.InitialPos}, "Invalid routes", "%v", err)
	}
	cfg.Table = table
}

func (d *decoder) checkName(b *hcl.Block, kind string) {
	if !namePattern.MatchString(b.Labels[0]) {
		d.errorf(b.LabelRanges[0], "Invalid "+kind+" name",
			"%s name %q must start with a letter or digit and use only letters, digits, '.', '_' and '-' (at most 64)", kind, b.Labels[0])
	}
}

// value evaluates expr as type ty; ok is false when it reported an error.
// Null counts as an error: an attribute that is written must have a value.
func (d *decoder) value(expr hcl.Expression, ty cty.Type) (cty.Value, bool) {
	val, diags := expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	val, err := convert.Convert(val, ty)
	if err != nil {
		d.errorf(expr.Range(), "Incorrect value type", "want %s: %s", ty.FriendlyName(), err)
		return cty.NilVal, false
	}
	if val.IsNull() {
		d.errorf(expr.Range(), "Missing value", "want %s, not null", ty.FriendlyName())
		return cty.NilVal, false
	}
	return val, true
}

// str decodes a string attribute; ok is false when it reported an error.
func (d *decoder) str(a *hcl.Attribute) (string, bool) {
	v, ok := d.value(a.Expr, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) resolve(path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(d.dir, path)
}

func (d *decoder) server(b *hcl.Block, s *Server) {
	content, diags := b.Body.Content(serverSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["listen"]; a != nil {
		if v, ok := d.str(a); ok {
			if err := checkListen(v); err != nil {
				d.errorf(a.Expr.Range(), "Invalid listen address", "%q %v; use host:port such as %q", v, err, DefaultListen)
			} else {
				s.Listen = v
			}
		}
	}
	if a := content.Attributes["public_url"]; a != nil {
		if v, ok := d.str(a); ok {
			if err := checkPublicURL(v); err != nil {
				d.errorf(a.Expr.Range(), "Invalid public_url", "%q %v; use the URL providers reach this server at, such as \"https://sms.example.com\"", v, err)
			} else {
				s.PublicURL = strings.TrimRight(v, "/")
			}
		}
	}
	if a := content.Attributes["role"]; a != nil {
		if v, ok := d.str(a); ok {
			switch v {
			case RoleAll, RoleAPI:
				s.Role, s.RoleRange = v, a.Expr.Range()
			default:
				d.errorf(a.Expr.Range(), "Unknown role",
					"role %q is not a node role; use %q (accept, send and deliver webhooks; the default) or %q (accept and serve the API only, leaving sending to the nodes with role %q)",
					v, RoleAll, RoleAPI, RoleAll)
			}
		}
	}
	d.transport(content.Attributes, &s.Transport)
	seen := map[string]*hcl.Block{}
	for _, mb := range content.Blocks {
		if prev := seen[mb.Type]; prev != nil {
			d.errorf(mb.DefRange, "Duplicate "+mb.Type+" block",
				"a %s block is already defined on line %d; merge the two", mb.Type, prev.DefRange.Start.Line)
			continue
		}
		seen[mb.Type] = mb
		switch mb.Type {
		case "tls":
			d.tls(mb, &s.Transport)
			continue
		case "console":
			d.console(mb, &s.Console)
			continue
		}
		d.metrics(mb, &s.Metrics)
		if s.Metrics.Listen != "" && s.Metrics.Listen == s.Listen && !strings.HasSuffix(s.Listen, ":0") {
			d.errorf(mb.DefRange, "Metrics listen is the API's",
				"metrics listen %q is the server's listen address; leave it out to serve /metrics on the API listener", s.Listen)
		}
	}
}

func checkListen(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("is not host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has port %q, which is not a number from 0 to 65535", port)
	}
	return nil
}

func checkPublicURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must start with http:// or https://")
	}
	if u.Host == "" {
		return fmt.Errorf("has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not have a query or fragment")
	}
	return nil
}

func defaultPublicURL(listen string, tls bool) string {
	scheme := "http://"
	if tls {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return scheme + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

func (d *decoder) database(b *hcl.Block, db *Database) {
	content, diags := b.Body.Content(databaseSchema)
	d.diags = append(d.diags, diags...)
	a := content.Attributes["driver"]
	if a == nil {
		return // Content reported the missing argument.
	}
	driver, ok := d.str(a)
	if !ok {
		return
	}
	pathAttr, dsnAttr := content.Attributes["path"], content.Attributes["dsn"]
	switch driver {
	case DriverSQLite:
		if dsnAttr != nil {
			d.errorf(dsnAttr.NameRange, "Unexpected dsn", `the sqlite driver takes path = "./data/smsrouter.db", not dsn`)
		}
		path := DefaultSQLitePath
		if pathAttr != nil {
			if path, ok = d.str(pathAttr); !ok {
				return
			}
			if path == "" {
				d.errorf(pathAttr.Expr.Range(), "Empty database path", "give the SQLite file's path, such as %q", DefaultSQLitePath)
				return
			}
		}
		dsn := path
		if path != ":memory:" && !strings.HasPrefix(path, "file:") {
			dsn = d.resolve(path)
		}
		*db = Database{Driver: DriverSQLite, DSN: dsn}
	case DriverPostgres:
		if pathAttr != nil {
			d.errorf(pathAttr.NameRange, "Unexpected path", `the postgres driver takes dsn = env("SMSROUTER_DATABASE_DSN"), not path`)
		}
		if dsnAttr == nil {
			d.errorf(b.DefRange, "Missing dsn", `the postgres driver needs dsn, e.g. dsn = env("SMSROUTER_DATABASE_DSN")`)
			return
		}
		dsn, ok := d.str(dsnAttr)
		if !ok {
			return
		}
		if dsn == "" {
			d.errorf(dsnAttr.Expr.Range(), "Empty dsn", "the postgres connection string is empty; is the environment variable set to an empty value?")
			return
		}
		*db = Database{Driver: DriverPostgres, DSN: dsn}
	default:
		d.errorf(a.Expr.Range(), "Unsupported database driver", "driver %q is not supported; use %q or %q", driver, DriverSQLite, DriverPostgres)
	}
}

func (d *decoder) provider(b *hcl.Block) (Provider, bool) {
	p := Provider{Name: b.Labels[0], Settings: json.RawMessage("{}"), Range: b.DefRange, SettingRanges: SettingRanges{Block: b.DefRange}}
	content, diags := b.Body.Content(providerSchema)
	d.diags = append(d.diags, diags...)
	attrs := content.Attributes
	ok := d.providerSource(b, attrs, &p, !diags.HasErrors())
	ok = d.providerSHA256(attrs, &p) && ok
	ok = d.providerPolling(attrs, &p) && ok
	ok = d.providerLists(attrs, &p) && ok
	ok = d.providerBlocks(content.Blocks, &p) && ok
	return p, ok
}

// providerSource reads where the plugin comes from: a built-in kind or an
// external binary, exactly one of them. schemaOK is false when the block
// already has errors.
func (d *decoder) providerSource(b *hcl.Block, attrs hcl.Attributes, p *Provider, schemaOK bool) bool {
	switch {
	case attrs["plugin"] == nil && attrs["path"] == nil:
		if !schemaOK {
			// Most likely a misspelt plugin or path, already reported with
			// a suggestion; a second error about the same line is noise.
			return false
		}
		d.errorf(b.DefRange, "Missing plugin", `provider %q needs either plugin = "KIND" (built-in kinds: %s) or path = "./bin/PLUGIN" (an external plugin binary)`, p.Name, kinds(d.opts.BuiltinKinds))
		return false
	case attrs["plugin"] != nil && attrs["path"] != nil:
		d.errorf(attrs["path"].NameRange, "Both plugin and path", "provider %q sets both; use plugin for a built-in kind or path for an external binary, not both", p.Name)
		return false
	case attrs["plugin"] != nil:
		return d.builtin(attrs["plugin"], p) && schemaOK
	default:
		return d.external(attrs["path"], p) && schemaOK
	}
}

// providerSHA256 reads the pin of an external plugin binary.
func (d *decoder) providerSHA256(attrs hcl.Attributes, p *Provider) bool {
	a := attrs["sha256"]
	if a == nil {
		return true
	}
	v, vok := d.str(a)
	switch {
	case !vok:
		return false
	case attrs["plugin"] != nil:
		d.errorf(a.NameRange, "Unexpected sha256", "sha256 pins an external plugin binary given by path; built-in plugins are part of this binary")
		return false
	case !sha256Pattern.MatchString(v):
		d.errorf(a.Expr.Range(), "Invalid sha256", "want the 64 hex digits printed by `sha256sum %s`, got %d characters", filepath.Base(p.Path), len(v))
		return false
	default:
		p.SHA256 = strings.ToLower(v)
		return true
	}
}

// providerPolling reads when the host starts and stops asking the
// provider for a message's status.
func (d *decoder) providerPolling(attrs hcl.Attributes, p *Provider) bool {
	ok := true
	if attrs["poll_status_after"] == nil {
		p.PollStatusAfter = DefaultPollStatusAfter
	}
	for _, pd := range []struct {
		name string
		dst  *time.Duration
	}{{"poll_status_after", &p.PollStatusAfter}, {"poll_status_for", &p.PollStatusFor}} {
		a := attrs[pd.name]
		if a == nil {
			continue
		}
		if v, vok := d.str(a); !vok {
			ok = false
		} else if pd.name == "poll_status_after" && v == "off" {
			*pd.dst = 0
		} else if dur, err := time.ParseDuration(v); err != nil || dur < time.Second {
			want := "a duration of at least 1s"
			if pd.name == "poll_status_after" {
				want = `"off" or ` + want
			}
			d.errorf(a.Expr.Range(), "Invalid "+pd.name, "want %s such as \"30s\" or \"48h\", got %q", want, v)
			ok = false
		} else {
			*pd.dst = dur
		}
	}
	if p.PollStatusFor > 0 && p.PollStatusAfter > 0 && p.PollStatusFor <= p.PollStatusAfter {
		d.errorf(attrs["poll_status_for"].Expr.Range(), "Invalid poll_status_for",
			"polling would stop (after %s) before it starts (poll_status_after = %s)", p.PollStatusFor, p.PollStatusAfter)
		ok = false
	}
	return ok
}

// providerLists reads the provider's numbers, failover codes and the
// plugin's own settings.
func (d *decoder) providerLists(attrs hcl.Attributes, p *Provider) bool {
	ok := true
	if a := attrs["numbers"]; a != nil {
		list, nok := d.providerNumbers(a)
		ok = nok && ok
		p.Numbers = list
	}
	if a := attrs["failover_on"]; a != nil {
		codes, fok := d.failoverOn(a)
		ok = fok && ok
		p.FailoverOn = codes
	}
	if a := attrs["config"]; a != nil {
		settings, sok := d.settings(a)
		ok = sok && ok
		p.Settings = settings
		p.SettingRanges = d.settingRanges(a)
	}
	return ok
}

func (d *decoder) builtin(a *hcl.Attribute, p *Provider) bool {
	kind, ok := d.str(a)
	if !ok {
		return false
	}
	for _, k := range d.opts.BuiltinKinds {
		if k == kind {
			p.Plugin = kind
			return true
		}
	}
	d.errorf(a.Expr.Range(), "Unknown plugin kind", "%q is not a built-in plugin kind; built-in kinds: %s (for an external plugin binary use path instead)", kind, kinds(d.opts.BuiltinKinds))
	return false
}

func (d *decoder) external(a *hcl.Attribute, p *Provider) bool {
	path, ok := d.str(a)
	if !ok {
		return false
	}
	if path == "" {
		d.errorf(a.Expr.Range(), "Empty plugin path", "give the plugin binary's path, relative to this file's directory or absolute")
		return false
	}
	p.Path = d.resolve(path)
	fi, err := os.Stat(p.Path)
	switch {
	case err != nil && os.IsNotExist(err):
		d.errorf(a.Expr.Range(), "Plugin binary not found", "%s does not exist (relative paths are resolved from the config file's directory)", p.Path)
	case err != nil:
		d.errorf(a.Expr.Range(), "Plugin binary not readable", "%v", err)
	case fi.IsDir():
		d.errorf(a.Expr.Range(), "Plugin path is a directory", "%s is a directory; give the plugin binary's path", p.Path)
	case fi.Mode().Perm()&0o111 == 0:
		d.errorf(a.Expr.Range(), "Plugin binary not executable", "%s has mode %s; make it executable (chmod +x)", p.Path, fi.Mode().Perm())
	default:
		return true
	}
	return false
}

// settings turns the config attribute into the JSON object the plugin
// receives. Maps and objects both qualify: HCL gives { a = 1 } an object
// type, and a function result may be a map.
func (d *decoder) settings(a *hcl.Attribute) (json.RawMessage, bool) {
	val, diags := a.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return json.RawMessage("{}"), false
	}
	if val.IsNull() {
		return json.RawMessage("{}"), true
	}
	ty := val.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		d.errorf(a.Expr.Range(), "Invalid provider config", "config must be an object such as config = { key = \"value\" }, not a %s", ty.FriendlyName())
		return json.RawMessage("{}"), false
	}
	if !val.IsWhollyKnown() {
		d.errorf(a.Expr.Range(), "Invalid provider config", "config must be fully known when the file is read")
		return json.RawMessage("{}"), false
	}
	raw, err := ctyjson.Marshal(val, ty)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid provider config", "cannot turn config into JSON: %v", err)
		return json.RawMessage("{}"), false
	}
	return raw, true
}

func (d *decoder) route(b *hcl.Block) (routing.RouteConfig, bool) {
	rc := routing.RouteConfig{Name: b.Labels[0], Range: b.DefRange, DefaultRange: b.DefRange, CandidatesRange: b.DefRange,
		StrategyRange: b.DefRange, WeightsRange: b.DefRange}
	content, diags := b.Body.Content(routeSchema)
	d.diags = append(d.diags, diags...)
	ok := !diags.HasErrors()
	if a := content.Attributes["default"]; a != nil {
		rc.DefaultRange = a.Range
		v, vok := d.value(a.Expr, cty.Bool)
		ok = ok && vok
		rc.Default = vok && v.True()
	}
	ok = d.routeRules(content.Attributes, &rc) && ok
	ok = d.routeHold(content, &rc) && ok
	if a := content.Attributes["candidates"]; a != nil {
		rc.CandidatesRange = a.Expr.Range()
		v, vok := d.value(a.Expr, cty.List(cty.String))
		ok = ok && vok
		if vok {
			for _, e := range v.AsValueSlice() {
				if e.IsNull() {
					d.errorf(a.Expr.Range(), "Missing value", "candidates must be provider names, not null")
					ok = false
					continue
				}
				rc.Candidates = append(rc.Candidates, e.AsString())
			}
		}
		if tuple, isTuple := a.Expr.(*hclsyntax.TupleConsExpr); isTuple && len(tuple.Exprs) == len(rc.Candidates) {
			for _, e := range tuple.Exprs {
				rc.CandidateRanges = append(rc.CandidateRanges, e.Range())
			}
		}
	}
	return rc, ok
}

func kinds(k []string) string {
	if len(k) == 0 {
		return "(none)"
	}
	sorted := append([]string(nil), k...)
	sort.Strings(sorted)
	return strings.Join(sorted, ", ")
}
