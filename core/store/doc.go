// Package store keeps smsrouter's durable state (accounts, API keys, messages
// and their events) in SQLite or PostgreSQL through gorm.
//
// It keeps rows; the rules live in core's packages. A consumer owns the
// interface it needs and its types (core/dispatch's Queue and Message,
// core/metrics' Database, core's repositories), and *Store implements
// them: claims.go converts the rows the dispatcher claims to its type.
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
