package recordid

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// New returns prefix followed by 24 lowercase hex digits (96 random bits),
// e.g. New("key_"). The store names the records it creates with it.
func New(prefix string) string {
	var b [12]byte
	// crypto/rand.Read never fails on supported platforms (it panics
	// rather than returning short).
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Ordered returns an id of New's shape (prefix and 24 lowercase hex
// digits) whose first 8 digits are at's Unix second and whose last 16 are
// random (64 bits), for the records written at the rate of traffic
// (messages, inbound messages). They are the primary keys of the busiest
// tables: with random ids every insert went into a random leaf of their
// index, so the part of the index being written grew with the table,
// outgrew the buffer cache and, after each checkpoint, wrote each leaf
// whole to the WAL again. Ids of one second share a prefix, so inserts
// stay at the index's right edge however big it grows. The service names
// a message before it is stored (so that routing can split by it), hence
// the exported function. Seconds past 2106 wrap; ids stay unique by their
// random part, only their order is lost.
func Ordered(prefix string, at time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[:4], uint32(at.Unix()))
	_, _ = rand.Read(b[4:])
	return prefix + hex.EncodeToString(b[:])
}
