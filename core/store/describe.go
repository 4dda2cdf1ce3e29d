package store

// DescribeDatabase names a database for people: the file of a SQLite
// database, user@host/name of a PostgreSQL one, never a password.
func DescribeDatabase(driver, dsn string) string { return describeDSN(driver, dsn) }
