package recordid

import (
	"crypto/rand"
	"encoding/hex"
)

// New returns prefix followed by 24 lowercase hex digits (96 random bits),
// e.g. New("msg_"). The service names a message before it is stored (so
// that routing can split by it), and the store names the records it
// creates, so both use it.
func New(prefix string) string {
	var b [12]byte
	// crypto/rand.Read never fails on supported platforms (it panics
	// rather than returning short).
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
