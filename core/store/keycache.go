package store

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Verified API keys are kept in memory so that a request does not cost a
// query to authenticate: at thousands of sends per second that query was
// as many statements as everything else the accept path runs. A revoked
// key must be refused at once by every server, so entries are used only
// while this process hears PostgreSQL's notifications of key changes;
// without them (SQLite, or the listening connection down) every request
// reads the key.
const (
	keyCacheTTL        = 30 * time.Second
	keyChangedChannel  = "smsrouter_api_keys"
	keyListenMinBackof = 500 * time.Millisecond
	keyListenMaxBackof = 30 * time.Second
)

type keyCache struct {
	mu      sync.Mutex
	live    bool // notifications flow: entries may be used
	gen     uint64
	entries map[string]cachedKey // by key hash

	start  sync.Once
	cancel context.CancelFunc
	done   chan struct{}
}

type cachedKey struct {
	key   APIKey
	until time.Time
}

// cached returns the live cached key with this hash, and the generation to
// pass to keep when it is not cached.
func (s *Store) cachedKey(hash string) (APIKey, uint64, bool) {
	s.startKeyListener()
	c := &s.keys
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return APIKey{}, c.gen, false
	}
	e, ok := c.entries[hash]
	if !ok || s.now().After(e.until) {
		return APIKey{}, c.gen, false
	}
	return e.key, c.gen, true
}

// keepKey caches key, read at generation gen, unless a change of any key
// was heard since: the read may have raced with a revocation.
func (s *Store) keepKey(hash string, key APIKey, gen uint64) {
	c := &s.keys
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || c.gen != gen {
		return
	}
	if c.entries == nil {
		c.entries = map[string]cachedKey{}
	}
	c.entries[hash] = cachedKey{key: key, until: s.now().Add(keyCacheTTL)}
}

// forgetKeys drops cached keys: the one with this id, or all when id is "".
func (s *Store) forgetKeys(id string) {
	c := &s.keys
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for h, e := range c.entries {
		if id == "" || e.key.ID == id {
			delete(c.entries, h)
		}
	}
}

// keyChanged tells this process and, on PostgreSQL, every other one that
// the key changed (revoked, new limit); called after the change committed.
func (s *Store) keyChanged(ctx context.Context, id string) {
	s.forgetKeys(id)
	if s.driver != DriverPostgres {
		return
	}
	if err := s.db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", keyChangedChannel, id).Error; err != nil {
		// Other servers keep the key for at most keyCacheTTL.
		s.log.Warn("could not tell other servers that an API key changed; they notice within the cache time",
			"key_id", id, "cache_time", keyCacheTTL, "error", err)
	}
}

// startKeyListener starts, once and on PostgreSQL only, the goroutine that
// listens for key changes; Close stops it.
func (s *Store) startKeyListener() {
	if s.driver != DriverPostgres {
		return
	}
	s.keys.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.keys.cancel = cancel
		s.keys.done = make(chan struct{})
		go func() {
			defer close(s.keys.done)
			s.listenKeyChanges(ctx)
		}()
	})
}

func (s *Store) stopKeyListener() {
	s.keys.start.Do(func() {}) // no listener may start after Close
	if s.keys.cancel != nil {
		s.keys.cancel()
		<-s.keys.done
	}
}

// listenKeyChanges holds a connection of its own LISTENing for key changes
// until ctx ends, reconnecting with backoff. Entries are used only while it
// listens, and dropped whenever it stops, since changes may have been
// missed meanwhile.
func (s *Store) listenKeyChanges(ctx context.Context) {
	backoff := keyListenMinBackof
	for {
		err := s.listenOnce(ctx, func() { backoff = keyListenMinBackof })
		s.setKeysLive(false)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("not hearing API key changes; reading keys from the database until listening again", "retry_in", backoff, "error", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, keyListenMaxBackof)
	}
}

func (s *Store) listenOnce(ctx context.Context, listening func()) error {
	conn, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return redactErr(err, s.dsn)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+keyChangedChannel); err != nil {
		return err
	}
	s.setKeysLive(true)
	listening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.forgetKeys(n.Payload)
	}
}

func (s *Store) setKeysLive(live bool) {
	c := &s.keys
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}
