// Package seal encrypts values kept at rest (message texts, webhook signing
// secrets) with a server key: AES-256-GCM from the standard library under a
// key derived per value, with a ring of keys so that keys can be rotated
// (the newest seals, every key in the ring opens).
package seal
