// Package store keeps smsrouter's durable state (accounts, API keys, messages
// and their events) in SQLite or PostgreSQL through gorm.
//
// Open connects and migrates the schema listed in schema.go: the tables,
// then the steps that bring a database of an earlier version up to date.
//
// Times are written in UTC. On SQLite they are stored as text, which compares
// correctly only between values in the same zone: pass UTC times to queries
// that compare times.
//
// SQLite runs with a single connection (one writer is all it allows anyway).
// Never query through Store.DB() while a transaction from it is open on the
// same goroutine: the query would wait for the connection the transaction
// holds, forever. Use the transaction's *gorm.DB instead.
package store
