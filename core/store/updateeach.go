package store

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// perMessage is a column an update sets to a different value for each
// message.
type perMessage struct {
	column string
	// expr is what the column is set to, with %s standing for the
	// message's own value; empty means the value itself.
	expr string
	// values holds one value per id, in the ids' order (a slice).
	values any
}

// updateMessages updates the messages with the given ids in one
// statement: the columns of same to the same value, those of each to each
// message's own value. where, if not empty, is a further condition in SQL
// without parameters.
//
// On PostgreSQL the per-message values travel as one array per column and
// are joined by id (UPDATE … FROM unnest), so the statement's cost grows
// with the rows. The portable form, a CASE over the ids per column, makes
// every row walk the list: a batch of n costs n² comparisons, which for
// report batches of hundreds was most of the update's time.
func updateMessages(tx *gorm.DB, ids []string, same map[string]any, each []perMessage, where string) error {
	if len(ids) == 0 {
		return nil
	}
	if tx.Dialector.Name() != DriverPostgres {
		return updateMessagesSQLite(tx, ids, same, each, where)
	}
	var set []string
	// Planned with each batch's own arrays: the driver runs the statement
	// unnamed, keeping only its description. Prepared and kept, it was
	// planned generically after five runs, and a generic plan made while
	// the table was small (each server's first batches, on a table just
	// created or never analyzed) joins the arrays to a sequential scan of
	// messages, kept as the table grows: the receipts' update read the
	// whole table per batch (docs/performance.md). A batch's own plan
	// reads the primary key.
	args := make([]any, 1, len(same)+len(each)+2)
	args[0] = pgx.QueryExecModeCacheDescribe
	param := func() int { return len(args) - 1 } // the last argument's $n
	// Sorted, so that one kind of update is one statement text, whose
	// description the driver keeps.
	for _, col := range slices.Sorted(maps.Keys(same)) {
		args = append(args, same[col])
		set = append(set, fmt.Sprintf("%q = $%d", col, param()))
	}
	args = append(args, ids)
	unnest := []string{fmt.Sprintf("$%d::text[]", param())}
	names := []string{"id"}
	for i, c := range each {
		typ, ok := pgArrayType(reflect.TypeOf(c.values).Elem())
		if !ok {
			return fmt.Errorf("update messages: no PostgreSQL array type for column %s", c.column)
		}
		args = append(args, c.values)
		unnest = append(unnest, fmt.Sprintf("$%d::%s[]", param(), typ))
		v := fmt.Sprintf("v.c%d", i)
		names = append(names, fmt.Sprintf("c%d", i))
		expr := v
		if c.expr != "" {
			expr = fmt.Sprintf(c.expr, v)
		}
		set = append(set, fmt.Sprintf("%q = %s", c.column, expr))
	}
	q := fmt.Sprintf("UPDATE messages SET %s FROM unnest(%s) AS v(%s) WHERE messages.id = v.id",
		strings.Join(set, ", "), strings.Join(unnest, ", "), strings.Join(names, ", "))
	if where != "" {
		q += " AND " + where
	}
	if _, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q, args...); err != nil {
		return err
	}
	return nil
}

// updateMessagesSQLite is updateMessages on SQLite, which has no arrays:
// the per-message values come as a VALUES table joined by id (UPDATE …
// FROM), the counterpart of PostgreSQL's unnest. A CASE over the ids per
// column, as this once was, made every row walk the list: n² comparisons
// for a batch of n, and the largest single cost of recording a round of
// attempts on SQLite.
func updateMessagesSQLite(tx *gorm.DB, ids []string, same map[string]any, each []perMessage, where string) error {
	per := sqliteRows(1 + len(each))
	for start := 0; start < len(ids); start += per {
		end := min(len(ids), start+per)
		names, cols := []string{"id"}, []any{ids[start:end]}
		for i, c := range each {
			names = append(names, fmt.Sprintf("c%d", i))
			cols = append(cols, reflect.ValueOf(c.values).Slice(start, end).Interface())
		}
		with, args := valuesTable(names, cols...)
		var set []string
		for _, col := range slices.Sorted(maps.Keys(same)) {
			args = append(args, same[col])
			set = append(set, fmt.Sprintf("%q = ?", col))
		}
		for i, c := range each {
			expr := fmt.Sprintf("v.c%d", i)
			if c.expr != "" {
				expr = fmt.Sprintf(c.expr, expr)
			}
			set = append(set, fmt.Sprintf("%q = %s", c.column, expr))
		}
		q := with + " UPDATE messages SET " + strings.Join(set, ", ") + " FROM v WHERE messages.id = v.id"
		if where != "" {
			q += " AND " + where
		}
		if _, err := tx.Statement.ConnPool.ExecContext(tx.Statement.Context, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// valuesTable is SQLite's counterpart of unnest: WITH v(names…) AS (VALUES
// (…), …), one row per index of the columns (slices of one length), and
// the arguments in row order. A statement joining v costs in proportion to
// its rows; names must not be those of the updated table's columns it
// refers to unqualified.
func valuesTable(names []string, cols ...any) (string, []any) {
	vs := make([]reflect.Value, len(cols))
	for i, c := range cols {
		vs[i] = reflect.ValueOf(c)
	}
	n := vs[0].Len()
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var b strings.Builder
	b.Grow(len(names)*8 + n*(len(row)+2) + 32)
	b.WriteString("WITH v(" + strings.Join(names, ", ") + ") AS (VALUES ")
	args := make([]any, 0, n*len(cols))
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
		for _, v := range vs {
			args = append(args, v.Index(r).Interface())
		}
	}
	b.WriteString(")")
	return b.String(), args
}
