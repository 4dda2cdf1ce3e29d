// Package riverbench measures River (github.com/riverqueue/river) as
// smsrouter's dispatch queue against the messages-table queue smsrouter
// uses, on the same PostgreSQL, so the choice between them rests on figures
// from this machine. It is a module of its own so that smsrouter does not
// depend on River for a benchmark.
//
// Run it on a scratch database (it creates and drops its own schema):
//
//	RIVERBENCH_DSN=postgres://postgres@127.0.0.1:5432/riverbench?sslmode=disable \
//	  go test -run '^$' -bench . -benchtime 4000x
package riverbench
