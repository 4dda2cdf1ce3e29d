package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// KeySize is the length of a key in bytes (AES-256).
const KeySize = 32

// prefix starts every sealed value, followed by the key id, a colon and the
// sealed bytes in unpadded URL-safe base64: "sealed:1:3fa9c2d1:…". The
// version lets a later format be told apart from this one.
const prefix = "sealed:1:"

// Sizes of the random parts of a sealed value. Each value gets its own
// AES key, derived from the server key and a random salt, so that the
// 96-bit GCM nonce limit (2^32 values per key with random nonces) does not
// bound how many values one server key may seal.
const (
	saltSize  = 16
	nonceSize = 12
)

// ErrNotSealed means a value does not have the sealed form; values written
// before sealing existed (or by a store without keys) are in the clear.
var ErrNotSealed = errors.New("not a sealed value")

// UnknownKeyError means a value was sealed with a key the ring does not
// hold: a key removed from the configuration too early, or a node given a
// different key than the one that wrote the value.
type UnknownKeyError struct {
	// KeyID is the id of the key that sealed the value.
	KeyID string
	// Known are the ids of the ring's keys.
	Known []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("value sealed with key %s, which is not among the configured keys (%s): configure that key again (as an older key after the newest)",
		e.KeyID, strings.Join(e.Known, ", "))
}

// TamperedError means a sealed value did not authenticate under its key:
// it was altered, or copied from another record (each value is bound to
// the record it belongs to).
type TamperedError struct {
	KeyID string
}

func (e *TamperedError) Error() string {
	return fmt.Sprintf("value sealed with key %s does not authenticate: it was altered or belongs to another record", e.KeyID)
}

// Key is one server key. Its id is derived from its bytes, so two nodes
// given different keys never mistake one for the other, and the id can be
// logged and stored while the key cannot.
type Key struct {
	id     string
	secret []byte
}

// NewKey makes a key from KeySize random bytes.
func NewKey(secret []byte) (Key, error) {
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("a secret key is %d bytes, got %d", KeySize, len(secret))
	}
	sum := sha256.Sum256(append([]byte("smsrouter seal key id\x00"), secret...))
	return Key{id: hex.EncodeToString(sum[:4]), secret: slices.Clone(secret)}, nil
}

// GenerateKey returns a fresh random key and its text form for ParseKey.
func GenerateKey() (Key, string) {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // never fails; it panics rather than return short
	k, _ := NewKey(b)
	return k, base64.StdEncoding.EncodeToString(b)
}

// ParseKey reads a key written as base64 (standard or URL-safe, padded or
// not) or as hex. The error never quotes the text: it is a secret.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if b, err := dec(s); err == nil && len(b) == KeySize {
			return NewKey(b)
		}
	}
	return Key{}, fmt.Errorf("a secret key is %d random bytes written as base64 (%d characters) or hex (%d); this one (%d characters) is neither (make one with: openssl rand -base64 32)",
		KeySize, base64.StdEncoding.EncodedLen(KeySize), 2*KeySize, len(s))
}

// ID names the key in sealed values, logs and errors.
func (k Key) ID() string { return k.id }

// String names the key by its id, never its bytes, so that a key printed
// by mistake does not leak.
func (k Key) String() string { return "seal key " + k.id }

// GoString is String, for %#v.
func (k Key) GoString() string { return k.String() }

// Ring holds the keys a server seals and opens with; the first is the
// newest and seals, every one of them opens. It is safe for concurrent
// use.
type Ring struct {
	keys []Key
	byID map[string]Key
}

// NewRing makes a ring of keys, newest first. A key given twice is kept
// once.
func NewRing(keys ...Key) (*Ring, error) {
	r := &Ring{byID: make(map[string]Key, len(keys))}
	for _, k := range keys {
		if k.id == "" {
			return nil, errors.New("seal: a key made without NewKey or ParseKey")
		}
		if _, dup := r.byID[k.id]; dup {
			continue
		}
		r.byID[k.id] = k
		r.keys = append(r.keys, k)
	}
	if len(r.keys) == 0 {
		return nil, errors.New("seal: a ring needs at least one key")
	}
	return r, nil
}

// Newest returns the id of the key that seals.
func (r *Ring) Newest() string { return r.keys[0].id }

// IDs returns the ids of the ring's keys, newest first.
func (r *Ring) IDs() []string {
	out := make([]string, len(r.keys))
	for i, k := range r.keys {
		out[i] = k.id
	}
	return out
}

// Has reports whether the ring holds the key with id.
func (r *Ring) Has(id string) bool {
	_, ok := r.byID[id]
	return ok
}

// Seal encrypts plaintext with the newest key. record names what the value
// belongs to (e.g. "messages.text:msg_…"): Open must be given the same, so
// a sealed value copied to another record does not open there.
func (r *Ring) Seal(plaintext, record string) string {
	k := r.keys[0]
	buf := make([]byte, saltSize+nonceSize, saltSize+nonceSize+len(plaintext)+16)
	_, _ = rand.Read(buf)
	aead := k.aead(buf[:saltSize])
	buf = aead.Seal(buf, buf[saltSize:], []byte(plaintext), []byte(record))
	return prefix + k.id + ":" + base64.RawURLEncoding.EncodeToString(buf)
}

// Open decrypts a value Seal returned for the same record. Errors:
// ErrNotSealed (the value is not in the sealed form), *UnknownKeyError (the
// ring lacks its key), *TamperedError (it does not authenticate).
func (r *Ring) Open(sealed, record string) (string, error) {
	id, body, ok := split(sealed)
	if !ok {
		return "", ErrNotSealed
	}
	k, ok := r.byID[id]
	if !ok {
		return "", &UnknownKeyError{KeyID: id, Known: r.IDs()}
	}
	buf, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(buf) < saltSize+nonceSize+16 {
		return "", &TamperedError{KeyID: id}
	}
	out, err := k.aead(buf[:saltSize]).Open(nil, buf[saltSize:saltSize+nonceSize], buf[saltSize+nonceSize:], []byte(record))
	if err != nil {
		return "", &TamperedError{KeyID: id}
	}
	return string(out), nil
}

// IsSealed reports whether v has the sealed form.
func IsSealed(v string) bool {
	_, _, ok := split(v)
	return ok
}

// KeyID returns the id of the key that sealed v; ok is false when v is not
// sealed.
func KeyID(v string) (id string, ok bool) {
	id, _, ok = split(v)
	return id, ok
}

func split(v string) (id, body string, ok bool) {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return "", "", false
	}
	id, body, ok = strings.Cut(rest, ":")
	return id, body, ok && id != "" && body != ""
}

// aead is the value's own AES-256-GCM, keyed by HKDF-SHA256 of the server
// key and the value's salt.
func (k Key) aead(salt []byte) cipher.AEAD {
	dk, err := hkdf.Key(sha256.New, k.secret, salt, "smsrouter seal v1", KeySize)
	if err != nil {
		panic("seal: derive key: " + err.Error()) // only for lengths fixed above
	}
	block, err := aes.NewCipher(dk)
	if err != nil {
		panic("seal: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("seal: " + err.Error())
	}
	return aead
}
