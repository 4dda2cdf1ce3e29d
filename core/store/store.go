package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/seal"
)

// Drivers this package can open.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// DefaultSQLitePath is where the embedded database lives when no DSN is given.
const DefaultSQLitePath = "./data/smsrouter.db"

// Sentinel errors callers test with errors.Is.
// The store answers with the domain's errors, so that its callers need not
// import it to tell them apart.
var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = account.ErrNotFound
	// ErrConflict means a record with the same unique value already exists.
	ErrConflict = account.ErrConflict
)

// Options says which database to open.
type Options struct {
	// Driver is "sqlite" or "postgres".
	Driver string
	// DSN is a file path for sqlite (default ./data/smsrouter.db) and a
	// connection string (URL or key=value) for postgres.
	DSN string
	// Logger receives slow queries and database errors; nil discards them.
	Logger hclog.Logger
	// MaxOpenConns caps the PostgreSQL pool; 0 means 20. SQLite always uses
	// one connection.
	MaxOpenConns int
	// Now is the clock used for timestamps; nil means time.Now. Tests set it
	// to move time without sleeping.
	Now func() time.Time
	// Billing is how accounts are charged; the zero value never refuses a
	// send for credit.
	Billing Billing
	// Keys seal message texts and webhook secrets at rest (the newest
	// seals, all open). Open refuses keys that lack one the database
	// records as used, and seals webhook secrets stored in the clear. Nil
	// stores new values in the clear and opens none: only for tools that
	// touch neither (and tests).
	Keys *seal.Ring
	// EventIDRetention is how long a provider event's id marks a repeat
	// when the event came without a duplicate window, as
	// retention.Policy.ProcessedEvents, which the server sets to the
	// same; zero means retention.DefaultPeriod.
	EventIDRetention time.Duration
}

// Store is the handle to the database. It is safe for concurrent use.
type Store struct {
	db     *gorm.DB
	driver string
	log    hclog.Logger
	now    func() time.Time
	// billing is fixed at Open: accept and refund paths read it unlocked.
	billing Billing
	// ring seals texts and webhook secrets (Options.Keys); nil for none.
	ring *seal.Ring
	// eventIDs is Options.EventIDRetention or its default.
	eventIDs time.Duration
	// bodies caches accounts' message_bodies policies (id → bodiesEntry).
	bodies sync.Map
	// secrets caches opened webhook secrets by account and sealed value.
	secrets sync.Map

	// touched remembers when this process last wrote each key's LastUsedAt,
	// so that concurrent requests with one key do not each issue a write.
	touchMu sync.Mutex
	touched map[string]time.Time

	// dsn is kept for the connection that listens for API key changes;
	// keys caches verified keys (keycache.go).
	dsn  string
	keys keyCache

	// checkpoints runs SQLite's checkpoints beside the writes (nil on
	// PostgreSQL and for in-memory databases).
	checkpoints *checkpointer

	// rates group concurrent TakeRate calls into shared transactions;
	// started by the first call, stopped by Close.
	rateOnce sync.Once
	rates    *groupCommit[rateTake]

	// inboundOwners maps numbers to account names for inbound messages
	// (SetInboundOwners); accountIDs caches account ids by name, "" being
	// the first account.
	inboundOwners atomic.Pointer[map[string]string]
	accountIDs    sync.Map
	// codeFinder finds one-time codes in messages to leased numbers
	// (SetCodeFinder); nil means numbers.FindCode.
	codeFinder atomic.Pointer[numbers.CodeFinder]
	// inboundRules decide for inbound messages to numbers nobody holds
	// (SetInboundRules); nil decides nothing.
	inboundRules atomic.Pointer[inbound.Rules]

	// limited remembers which accounts have a credit limit (id → bool),
	// so that charging an account without one needs no read first; only
	// a hint, see chargeAcceptances.
	limited sync.Map

	// polled names the providers whose statuses are polled
	// (SetPolledProviders); nil means every provider.
	polled atomic.Pointer[map[string]bool]

	// handoff takes deliveries as they are written (HandOffWebhooks); nil
	// when no deliverer runs in this process.
	handoff atomic.Pointer[handoff]
	// holder keeps what this process handed over, for its row in
	// webhook_holders (see SweepWebhooks).
	holder *holder
}

// Open connects to the database described by opts and migrates the schema.
func Open(ctx context.Context, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	log = log.Named("store")
	if opts.Driver == DriverSQLite && opts.DSN == "" {
		opts.DSN = DefaultSQLitePath
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	// Microseconds are all PostgreSQL keeps; truncating everywhere makes a
	// value read back equal to the value written on both drivers.
	utcNow := func() time.Time { return now().UTC().Truncate(time.Microsecond) }
	cfg := &gorm.Config{
		Logger:               &gormLog{log: log, slow: 200 * time.Millisecond},
		NowFunc:              utcNow,
		TranslateError:       true,
		DisableAutomaticPing: true, // we ping with the caller's context below
	}

	var (
		db        *gorm.DB
		sqliteDSN string
		err       error
	)
	switch opts.Driver {
	case DriverSQLite:
		db, sqliteDSN, err = openSQLite(opts.DSN, cfg)
	case DriverPostgres:
		db, err = openPostgres(opts.DSN, opts.MaxOpenConns, cfg)
	default:
		return nil, fmt.Errorf("open database: unknown driver %q (use %q or %q)", opts.Driver, DriverSQLite, DriverPostgres)
	}
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, driver: opts.Driver, log: log, now: utcNow, holder: newHolder(), touched: map[string]time.Time{}, dsn: opts.DSN, billing: opts.Billing,
		ring: opts.Keys, eventIDs: cmp.Or(opts.EventIDRetention, retention.DefaultPeriod)}

	sqlDB, err := db.DB()
	if err == nil {
		err = sqlDB.PingContext(ctx)
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("open %s database %s: %w", opts.Driver, describeDSN(opts.Driver, opts.DSN), redactErr(err, opts.DSN))
	}
	if err := s.Migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.startSealing(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	if sqliteDSN != "" && !inMemory(sqliteDSN) {
		if err := s.startCheckpoints(sqliteDSN); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	log.Info("database ready", "driver", opts.Driver, "database", describeDSN(opts.Driver, opts.DSN))
	return s, nil
}

// openSQLite opens the SQLite database at dsn and returns it with the DSN
// it was opened with, options included.
func openSQLite(dsn string, cfg *gorm.Config) (*gorm.DB, string, error) {
	if dsn == "" {
		dsn = DefaultSQLitePath
	}
	path, query, _ := strings.Cut(dsn, "?")
	if path != ":memory:" && !strings.HasPrefix(path, "file:") {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, "", fmt.Errorf("open sqlite database %s: create its directory: %w", path, err)
			}
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite database %s: bad options %q: %w", path, query, err)
	}
	// WAL lets readers run beside the writer; NORMAL sync is durable across
	// process crashes (only an OS crash may lose the last transactions);
	// busy_timeout makes other processes (the CLI next to the server) wait
	// for the lock instead of failing; IMMEDIATE transactions take the write
	// lock up front so two processes never deadlock upgrading a read lock.
	// The page cache (32 MB instead of 2) holds the queue's hot pages, which
	// were otherwise read back from the file at every batch; temporary
	// files, such as the statement journals of multi-row statements, stay
	// in memory instead of being written out. Checkpoints run beside the
	// writes (checkpoint.go); the automatic one is only a backstop.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)", "foreign_keys(1)",
		"cache_size(-32768)", "temp_store(MEMORY)", fmt.Sprintf("wal_autocheckpoint(%d)", sqliteBackstopPages)} {
		q.Add("_pragma", p)
	}
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	full := path + "?" + q.Encode()
	db, err := gorm.Open(sqlite.Open(full), cfg)
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	// SQLite allows one writer; a single connection turns lock contention
	// inside this process into queueing instead of SQLITE_BUSY errors, and
	// keeps a ":memory:" database alive for the life of the Store.
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	sqlDB.SetConnMaxLifetime(0)
	sqlDB.SetConnMaxIdleTime(0)
	return db, full, nil
}

func openPostgres(dsn string, maxOpen int, cfg *gorm.Config) (*gorm.DB, error) {
	if dsn == "" {
		return nil, errors.New("open postgres database: no DSN given (e.g. postgres://user:password@host:5432/smsrouter)")
	}
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: dsn, OptionOpenDB: []stdlib.OptionOpenDB{stdlib.OptionAfterConnect(withoutJIT)}}), cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres database %s: %w", describeDSN(DriverPostgres, dsn), redactErr(err, dsn))
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open postgres database %s: %w", describeDSN(DriverPostgres, dsn), redactErr(err, dsn))
	}
	if maxOpen <= 0 {
		maxOpen = 20
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(min(maxOpen, 10))
	// Recycling connections lets a failover or a pooler's rebalancing reach
	// us without a restart.
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// withoutJIT turns PostgreSQL's JIT compilation off for a new connection
// of the store. The store's queries read a few rows through an index;
// compiling one never pays. But on a table never analyzed (a fresh one,
// or autovacuum off) the planner can take an index probe for a thousand
// rows where there are two, the estimate passes jit_above_cost, and
// compiling takes far longer than the query (docs/performance.md). Set
// once here rather than with SET LOCAL in each transaction that risks
// it, which cost a round trip per transaction.
func withoutJIT(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SET jit = off"); err != nil {
		return fmt.Errorf("turn JIT off for a new connection: %w", err)
	}
	return nil
}

// DB returns the gorm handle for queries this package does not offer.
func (s *Store) DB() *gorm.DB { return s.db }

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// Close releases the database connections.
func (s *Store) Close() error {
	s.stopKeyListener()
	s.stopCheckpoints()
	s.rateOnce.Do(func() {}) // none may start after Close
	if s.rates != nil {
		s.rates.close()
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("close %s database: %w", s.driver, err)
	}
	if err := sqlDB.Close(); err != nil {
		return fmt.Errorf("close %s database: %w", s.driver, err)
	}
	return nil
}

// notFound turns gorm's not-found into ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

var (
	kvPassword  = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
	urlPassword = regexp.MustCompile(`(://[^:/@]*:)([^@]*)@`)
)

// describeDSN names the database for error messages without its password.
func describeDSN(driver, dsn string) string {
	if driver != DriverPostgres {
		path, _, _ := strings.Cut(dsn, "?")
		return path
	}
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		// Only where, never how: query parameters may carry a password too.
		who := ""
		if u.User != nil {
			who = u.User.Username() + "@"
		}
		return fmt.Sprintf("%s%s%s", who, u.Host, u.Path)
	}
	// Not a URL we can parse (or key=value form): blank out anything that
	// looks like a password.
	dsn = urlPassword.ReplaceAllString(dsn, "${1}xxxxx@")
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// redactErr hides the DSN's password should a driver error quote it.
func redactErr(err error, dsn string) error {
	pw := dsnPassword(dsn)
	if err == nil || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}

func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
		return u.Query().Get("password")
	}
	if m := urlPassword.FindStringSubmatch(dsn); m != nil {
		return m[2]
	}
	if m := kvPassword.FindStringSubmatch(dsn); m != nil {
		return strings.Trim(m[2], "'")
	}
	return ""
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// gormLog sends gorm's slow-query and error reports to hclog. It never logs
// query parameters: they may hold message text, phone numbers or key hashes.
type gormLog struct {
	log  hclog.Logger
	slow time.Duration
}

func (l *gormLog) LogMode(gormlogger.LogLevel) gormlogger.Interface { return l }

func (l *gormLog) Info(_ context.Context, msg string, args ...any) {
	l.log.Debug(fmt.Sprintf(msg, args...))
}

func (l *gormLog) Warn(_ context.Context, msg string, args ...any) {
	l.log.Warn(fmt.Sprintf(msg, args...))
}

func (l *gormLog) Error(_ context.Context, msg string, args ...any) {
	l.log.Error(fmt.Sprintf(msg, args...))
}

func (l *gormLog) Trace(_ context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, gorm.ErrDuplicatedKey):
		// Not found, cancelled and duplicate are answers callers handle,
		// not database trouble.
		sql, rows := fc()
		l.log.Warn("database query failed", "sql", sql, "rows", rows, "elapsed", elapsed, "error", err)
	case l.slow > 0 && elapsed > l.slow:
		sql, rows := fc()
		l.log.Warn("slow database query", "sql", sql, "rows", rows, "elapsed", elapsed, "threshold", l.slow)
	}
}

// ParamsFilter drops query parameters before gorm renders SQL for Trace.
func (l *gormLog) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}
