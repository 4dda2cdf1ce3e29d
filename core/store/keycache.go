package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/singleflight"
)

// Verified API keys are kept in memory so that a request does not cost a
// query to authenticate: at thousands of sends per second that query was
// as many statements as everything else the accept path runs (and on
// SQLite each one waited for the single connection behind the writes). A
// revoked key must be refused at once by every server, so entries are used
// only while this process hears of key changes: PostgreSQL's notifications,
// or on SQLite, which has none, a re-read of the kept keys every
// keyPollEvery (a change made by another process, such as the CLI, is seen
// within that; one made by this process at once). While neither works
// (the listening connection down, a failed re-read) every request reads
// the key.
const (
	keyCacheTTL        = 30 * time.Second
	keyPollEvery       = 100 * time.Millisecond
	keyChangedChannel  = "smsrouter_api_keys"
	keyListenMinBackof = 500 * time.Millisecond
	keyListenMaxBackof = 30 * time.Second
)

type keyCache struct {
	mu      sync.Mutex
	live    bool // notifications flow: entries may be used
	gen     uint64
	entries map[string]cachedKey // by key hash

	// reads joins concurrent reads of one key (readKey).
	reads singleflight.Group

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

// apiKeyReads counts the reads of API keys from the database, for tests.
var apiKeyReads atomic.Int64

// keyReadTimeout bounds a read that requests share: no one request's
// cancellation may fail the others, so it runs without theirs.
const keyReadTimeout = 30 * time.Second

// readKey reads the key with this hash, which the cache did not hold at
// generation gen, and keeps it unless it is revoked. Concurrent misses of
// one key at one generation share one read: when a kept key's time ran
// out, every request in flight with it missed at once and each took a
// database connection to read the same row, a burst of queries that
// waited hundreds of milliseconds for connections every keyCacheTTL under
// load. A request that missed at a later generation (a key change heard
// since) does not join an earlier read: it might not see the change.
func (s *Store) readKey(ctx context.Context, hash string, gen uint64) (APIKey, error) {
	v, err, _ := s.keys.reads.Do(hash+"@"+strconv.FormatUint(gen, 10), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyReadTimeout)
		defer cancel()
		apiKeyReads.Add(1)
		var key APIKey
		if err := s.db.WithContext(ctx).Where("hash = ?", hash).Take(&key).Error; err != nil {
			return APIKey{}, err
		}
		if key.RevokedAt == nil {
			s.keepKey(hash, key, gen)
		}
		return key, nil
	})
	key, _ := v.(APIKey)
	return key, err
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

// keptUse records in the kept copy of the key with this hash the last use
// that touch just wrote, so that the key answered from memory shows it.
func (s *Store) keptUse(hash string, at *time.Time) {
	c := &s.keys
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[hash]; ok {
		e.key.LastUsedAt = at
		c.entries[hash] = e
	}
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

// startKeyListener starts, once, the goroutine that hears of key changes
// (listens on PostgreSQL, re-reads the kept keys on SQLite); Close stops
// it.
func (s *Store) startKeyListener() {
	s.keys.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.keys.cancel = cancel
		s.keys.done = make(chan struct{})
		go func() {
			defer close(s.keys.done)
			if s.driver == DriverPostgres {
				s.listenKeyChanges(ctx)
				return
			}
			s.pollKeyChanges(ctx)
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

// pollKeyChanges re-reads the kept keys every keyPollEvery until ctx ends:
// SQLite's way of hearing of changes other processes made. Entries are
// used only while the re-reads succeed.
func (s *Store) pollKeyChanges(ctx context.Context) {
	t := time.NewTicker(keyPollEvery)
	defer t.Stop()
	failing := false
	for {
		err := s.refreshKeys(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			s.log.Warn("cannot re-read the API keys kept in memory; reading keys from the database until it works again", "error", err)
		case err == nil && failing:
			s.log.Info("API keys are kept in memory again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshKeys replaces the kept keys by their rows as stored now, drops
// those revoked or gone, and marks the cache live; after an error it
// marks it not live. A round that raced with a change in this process
// (the generation moved) is left for the next.
func (s *Store) refreshKeys(ctx context.Context) error {
	c := &s.keys
	c.mu.Lock()
	gen, ids := c.gen, make([]string, 0, len(c.entries))
	for _, e := range c.entries {
		ids = append(ids, e.key.ID)
	}
	c.mu.Unlock()
	fresh := make(map[string]APIKey, len(ids))
	for chunk := range slices.Chunk(ids, idChunk) {
		var rows []APIKey
		if err := s.db.WithContext(ctx).Where("id IN ?", chunk).Find(&rows).Error; err != nil {
			s.setKeysLive(false)
			return fmt.Errorf("re-read %d API keys: %w", len(chunk), err)
		}
		for _, k := range rows {
			fresh[k.ID] = k
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil
	}
	for h, e := range c.entries {
		k, ok := fresh[e.key.ID]
		if !ok || k.RevokedAt != nil {
			delete(c.entries, h)
			continue
		}
		e.key = k
		c.entries[h] = e
	}
	c.live = true
	return nil
}
