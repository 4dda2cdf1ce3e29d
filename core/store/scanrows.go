package store

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// scanStructs reads every row of rows into a T (a model, or a struct
// embedding one) by gorm's column names, and closes rows. It gives what
// gorm's Scan into a []T gives, NULL leaving a field's zero value, without
// gorm's work per row and column: a value taken from and returned to a
// pool, a reflective set through its type switch, the slice grown by
// reflection. Per receipt batch and per dispatch claim that was most of the
// read's client-side CPU. A T or a column it cannot map as gorm would (a
// Scanner or serializer field, a column no field has) goes through gorm.
func scanStructs[T any](tx *gorm.DB, rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	plan := scanPlanFor(tx, reflect.TypeFor[T](), cols)
	if plan == nil {
		return scanStructsByGorm[T](tx, rows)
	}
	cells := make([]scanCell, len(cols))
	dests := make([]any, len(cols))
	for i := range cells {
		dests[i] = cells[i].dest(plan.cols[i].kind)
	}
	ctx := tx.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	var out []T
	for rows.Next() {
		if err := rows.Scan(dests...); err != nil {
			return nil, err
		}
		var t T
		row := reflect.ValueOf(&t).Elem()
		for i, c := range plan.cols {
			cells[i].set(c.kind, c.field.ReflectValueOf(ctx, row))
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// scanStructsByGorm is scanStructs by gorm's ScanRows, row by row.
func scanStructsByGorm[T any](tx *gorm.DB, rows *sql.Rows) ([]T, error) {
	var out []T
	for rows.Next() {
		var t T
		if err := tx.ScanRows(rows, &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// scanKind is how a column reaches its field: through the database/sql
// null type of the field's kind, set only when the column is not NULL.
type scanKind uint8

const (
	scanString scanKind = iota + 1
	scanInt
	scanBool
	scanFloat
	scanTime
	scanStringPtr
	scanTimePtr
)

type scanColumn struct {
	field *schema.Field
	kind  scanKind
}

type scanPlan struct{ cols []scanColumn }

var scanPlans sync.Map // scanPlanKey → *scanPlan (nil: scan by gorm)

type scanPlanKey struct {
	t    reflect.Type
	cols string
}

// scanPlanFor maps cols to t's fields once per result shape; nil when
// one of them needs gorm.
func scanPlanFor(tx *gorm.DB, t reflect.Type, cols []string) *scanPlan {
	key := scanPlanKey{t, strings.Join(cols, ",")}
	if p, ok := scanPlans.Load(key); ok {
		return p.(*scanPlan)
	}
	p := buildScanPlan(tx, t, cols)
	scanPlans.Store(key, p)
	return p
}

func buildScanPlan(tx *gorm.DB, t reflect.Type, cols []string) *scanPlan {
	stmt := &gorm.Statement{DB: tx}
	if t.Kind() != reflect.Struct || stmt.Parse(reflect.New(t).Interface()) != nil {
		return nil
	}
	p := &scanPlan{cols: make([]scanColumn, len(cols))}
	for i, name := range cols {
		f := stmt.Schema.LookUpField(name)
		if f == nil || f.Serializer != nil {
			return nil
		}
		kind := scanKindOf(f.FieldType)
		if kind == 0 {
			return nil
		}
		p.cols[i] = scanColumn{field: f, kind: kind}
	}
	return p
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	scannerType = reflect.TypeFor[sql.Scanner]()
)

// scanKindOf is the scanKind of a field's type; 0 for one gorm sets its
// own way (a Scanner, unsigned numbers, other pointers, structs).
func scanKindOf(t reflect.Type) scanKind {
	if reflect.PointerTo(t).Implements(scannerType) && t != timeType {
		return 0
	}
	if t.Kind() == reflect.Pointer {
		switch {
		case t.Elem() == timeType:
			return scanTimePtr
		case t.Elem().Kind() == reflect.String && !reflect.PointerTo(t.Elem()).Implements(scannerType):
			return scanStringPtr
		}
		return 0
	}
	if t == timeType {
		return scanTime
	}
	switch t.Kind() {
	case reflect.String:
		return scanString
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scanInt
	case reflect.Bool:
		return scanBool
	case reflect.Float32, reflect.Float64:
		return scanFloat
	}
	return 0
}

// scanCell holds one column of the current row; each kind uses one of
// its null types.
type scanCell struct {
	s sql.NullString
	i sql.NullInt64
	b sql.NullBool
	f sql.NullFloat64
	t sql.NullTime
}

func (c *scanCell) dest(k scanKind) any {
	switch k {
	case scanString, scanStringPtr:
		return &c.s
	case scanInt:
		return &c.i
	case scanBool:
		return &c.b
	case scanFloat:
		return &c.f
	default:
		return &c.t
	}
}

// set writes the cell to field as gorm's setter does: a NULL leaves the
// field as it is.
func (c *scanCell) set(k scanKind, field reflect.Value) {
	switch k {
	case scanString:
		if c.s.Valid {
			field.SetString(c.s.String)
		}
	case scanStringPtr:
		if c.s.Valid {
			v := reflect.New(field.Type().Elem())
			v.Elem().SetString(c.s.String)
			field.Set(v)
		}
	case scanInt:
		if c.i.Valid {
			field.SetInt(c.i.Int64)
		}
	case scanBool:
		if c.b.Valid {
			field.SetBool(c.b.Bool)
		}
	case scanFloat:
		if c.f.Valid {
			field.SetFloat(c.f.Float64)
		}
	case scanTime:
		if c.t.Valid {
			// Through its address: boxing a time.Time for Set allocates.
			*field.Addr().Interface().(*time.Time) = c.t.Time
		}
	case scanTimePtr:
		if c.t.Valid {
			t := c.t.Time
			*field.Addr().Interface().(**time.Time) = &t
		}
	}
}
