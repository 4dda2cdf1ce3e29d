// Package storetest opens throwaway stores for tests, on SQLite and on a real
// PostgreSQL, so the same test runs against both drivers.
//
// PostgreSQL tests need SMSROUTER_TEST_POSTGRES_DSN (a URL such as
// postgres://postgres@127.0.0.1:5432/smsrouter_test?sslmode=disable); each
// test gets its own schema there, dropped when it ends. Without the variable
// they are skipped, unless SMSROUTER_REQUIRE_POSTGRES=1, which CI sets so
// that a missing database fails the build instead of silently shrinking it.
package storetest
