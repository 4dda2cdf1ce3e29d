package store

import (
	"context"
	"database/sql"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// insertRows inserts rows (a slice of a model) with one statement. On
// PostgreSQL that statement takes one array per column and unnests them,
// so it has as many parameters as the table has columns however many rows
// there are: building, sending and planning a VALUES list of thousands of
// parameters per accept batch was the largest part of accepting. SQLite
// has no arrays: it inserts in chunks of rows (insertRowChunks).
func insertRows(tx *gorm.DB, rows any) error {
	return insertRowsReturning(tx, rows, "", nil)
}

// insertRowsReturning is insertRows with a RETURNING clause (empty for
// none): scan is called for each returned row, in no particular order.
func insertRowsReturning(tx *gorm.DB, rows any, returning string, scan func(*sql.Rows) error) error {
	rv := reflect.ValueOf(rows)
	if rv.Len() == 0 {
		return nil
	}
	plan, err := insertPlanFor(tx, rv.Type().Elem())
	if err != nil {
		return err
	}
	ctx := tx.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	now := tx.NowFunc()
	if tx.Dialector.Name() != DriverPostgres {
		return insertRowChunks(ctx, tx, plan, rv, now, returning, scan)
	}
	args := plan.columns(ctx, rv, now)
	if returning == "" {
		if _, err := tx.Statement.ConnPool.ExecContext(ctx, plan.sql, args...); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", rv.Len(), plan.table, err)
		}
		return nil
	}
	got, err := tx.Statement.ConnPool.QueryContext(ctx, plan.sql+" RETURNING "+returning, args...)
	if err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", rv.Len(), plan.table, err)
	}
	if err := scanAll(got, scan); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", rv.Len(), plan.table, err)
	}
	return nil
}

// scanAll calls scan for each row and closes rows.
func scanAll(rows *sql.Rows, scan func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

type insertPlan struct {
	table  string
	fields []*schema.Field
	sql    string // PostgreSQL: every row in one statement, by arrays
	// rowSQL and rowValues make SQLite's inserts: the statement up to
	// VALUES, and one row's placeholders.
	rowSQL    string
	rowValues string
}

// columns is the plan's PostgreSQL arguments for rows (a slice of the
// model): one slice per column, of the field's type. Each is made at its
// full length and filled in place, since reflect.Append allocates a slice
// header per call even when the capacity is there.
func (p *insertPlan) columns(ctx context.Context, rows reflect.Value, now time.Time) []any {
	n := rows.Len()
	cols := make([]reflect.Value, len(p.fields))
	for i, f := range p.fields {
		cols[i] = reflect.MakeSlice(reflect.SliceOf(f.FieldType), n, n)
	}
	for r := range n {
		for i, v := range p.values(ctx, rows.Index(r), now) {
			cols[i].Index(r).Set(v)
		}
	}
	args := make([]any, len(cols))
	for i, c := range cols {
		args[i] = c.Interface()
	}
	return args
}

// values yields the plan's column values of one row (a model or a
// pointer to one), setting an unset creation or update time to now first,
// as gorm's Create does.
func (p *insertPlan) values(ctx context.Context, row reflect.Value, now time.Time) iter.Seq2[int, reflect.Value] {
	row = reflect.Indirect(row)
	return func(yield func(int, reflect.Value) bool) {
		for i, f := range p.fields {
			v := f.ReflectValueOf(ctx, row)
			if f.AutoCreateTime != 0 || f.AutoUpdateTime != 0 {
				// TypeAssert reads the time without boxing it (Interface
				// allocates a copy per row).
				if t, ok := reflect.TypeAssert[time.Time](v); ok && t.IsZero() {
					v.Set(reflect.ValueOf(now))
				}
			}
			if !yield(i, v) {
				return
			}
		}
	}
}

var insertPlans sync.Map // reflect.Type → *insertPlan

// insertPlanFor builds, once per model, the unnest insert of every column
// but an auto-increment key.
func insertPlanFor(tx *gorm.DB, elem reflect.Type) (*insertPlan, error) {
	if p, ok := insertPlans.Load(elem); ok {
		return p.(*insertPlan), nil
	}
	t := elem
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	stmt := &gorm.Statement{DB: tx}
	if err := stmt.Parse(reflect.New(t).Interface()); err != nil {
		return nil, fmt.Errorf("bulk insert: %w", err)
	}
	p := &insertPlan{table: stmt.Schema.Table}
	var names, unnest []string
	for _, f := range stmt.Schema.Fields {
		if f.DBName == "" || !f.Creatable || f.AutoIncrement {
			continue
		}
		typ, ok := pgArrayType(f.FieldType)
		if !ok {
			return nil, fmt.Errorf("bulk insert into %s: no PostgreSQL array type for column %s (%s)", p.table, f.DBName, f.FieldType)
		}
		p.fields = append(p.fields, f)
		names = append(names, `"`+f.DBName+`"`)
		unnest = append(unnest, fmt.Sprintf("$%d::%s[]", len(p.fields), typ))
	}
	p.sql = fmt.Sprintf(`INSERT INTO %q (%s) SELECT * FROM unnest(%s)`, p.table, strings.Join(names, ", "), strings.Join(unnest, ", "))
	p.rowSQL = fmt.Sprintf(`INSERT INTO %q (%s) VALUES `, p.table, strings.Join(names, ", "))
	p.rowValues = "(" + strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ") + ")"
	insertPlans.Store(elem, p)
	return p, nil
}

// pgArrayType names the element type of the array a Go field's values are
// sent as; pointers are nullable elements.
func pgArrayType(t reflect.Type) (string, bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(time.Time{}) {
		return "timestamptz", true
	}
	switch t.Kind() {
	case reflect.String:
		return "text", true
	case reflect.Bool:
		return "boolean", true
	case reflect.Int, reflect.Int64, reflect.Uint32, reflect.Uint64:
		return "bigint", true
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return "integer", true
	case reflect.Float32, reflect.Float64:
		return "double precision", true
	}
	return "", false
}

// sqliteParams is about how many parameters one SQLite statement of many
// rows takes. The driver binds each parameter by searching the arguments
// from the first, so a statement's binding costs the square of its
// parameters: at 1,600 (an insert of 64 messages) that search was two
// thirds of the insert's CPU. Fewer rows per statement cost more parsing,
// since the driver prepares each statement anew on every execution;
// around 200 parameters was the cheapest in a benchmark of 512-message
// inserts (docs/performance.md).
const sqliteParams = 200

// sqliteRows is how many rows of cols values each one SQLite statement
// takes (see sqliteParams).
func sqliteRows(cols int) int { return max(1, sqliteParams/max(1, cols)) }

// insertRowChunks is insertRows for SQLite: statements of sqliteRows rows
// each. The driver prepares a statement anew on every execution, so a
// one-row insert run per row (as this once was) parsed and compiled the
// insert once per row, a sixth of the server's CPU on SQLite end to end
// (docs/performance.md, issue 20); a chunk parses it once per chunk.
func insertRowChunks(ctx context.Context, tx *gorm.DB, plan *insertPlan, rv reflect.Value, now time.Time, returning string, scan func(*sql.Rows) error) error {
	n := rv.Len()
	per := sqliteRows(len(plan.fields))
	args := make([]any, 0, min(n, per)*len(plan.fields))
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		args = args[:0]
		for r := start; r < end; r++ {
			for _, v := range plan.values(ctx, rv.Index(r), now) {
				args = append(args, v.Interface())
			}
		}
		q := plan.rowsSQL(end - start)
		if returning == "" {
			if _, err := tx.Statement.ConnPool.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("insert %d rows into %s: %w", end-start, plan.table, err)
			}
			continue
		}
		got, err := tx.Statement.ConnPool.QueryContext(ctx, q+" RETURNING "+returning, args...)
		if err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", end-start, plan.table, err)
		}
		if err := scanAll(got, scan); err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", end-start, plan.table, err)
		}
	}
	return nil
}

// rowsSQL is the plan's SQLite insert of n rows.
func (p *insertPlan) rowsSQL(n int) string {
	var b strings.Builder
	b.Grow(len(p.rowSQL) + n*(len(p.rowValues)+2))
	b.WriteString(p.rowSQL)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.rowValues)
	}
	return b.String()
}
