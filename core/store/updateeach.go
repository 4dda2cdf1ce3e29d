package store

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

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
		up := maps.Clone(same)
		for _, c := range each {
			up[c.column] = caseByID(ids, c)
		}
		q := tx.Model(&Message{}).Where("id IN ?", ids)
		if where != "" {
			q = q.Where(where)
		}
		return q.Updates(up).Error
	}
	var set []string
	args := make([]any, 0, len(same)+len(each)+1)
	// Sorted, so that one kind of update is one statement text, which the
	// driver prepares once.
	for _, col := range slices.Sorted(maps.Keys(same)) {
		args = append(args, same[col])
		set = append(set, fmt.Sprintf("%q = $%d", col, len(args)))
	}
	args = append(args, ids)
	unnest := []string{fmt.Sprintf("$%d::text[]", len(args))}
	names := []string{"id"}
	for i, c := range each {
		typ, ok := pgArrayType(reflect.TypeOf(c.values).Elem())
		if !ok {
			return fmt.Errorf("update messages: no PostgreSQL array type for column %s", c.column)
		}
		args = append(args, c.values)
		unnest = append(unnest, fmt.Sprintf("$%d::%s[]", len(args), typ))
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

// caseByID is a CASE over the ids giving each message its own value.
func caseByID(ids []string, c perMessage) any {
	sql, args := caseOver("id", ids, c.values)
	if c.expr != "" {
		sql = fmt.Sprintf(c.expr, sql)
	}
	return gorm.Expr(sql, args...)
}

// caseOver is the portable form of a value per row: CASE key WHEN k1 THEN
// v1 … END, with keys and values slices of one length. See updateMessages
// for why PostgreSQL gets arrays instead.
func caseOver(key string, keys, values any) (string, []any) {
	kv, vv := reflect.ValueOf(keys), reflect.ValueOf(values)
	var b strings.Builder
	args := make([]any, 0, 2*kv.Len())
	b.WriteString("CASE " + key)
	for i := range kv.Len() {
		b.WriteString(" WHEN ? THEN ?")
		args = append(args, kv.Index(i).Interface(), vv.Index(i).Interface())
	}
	b.WriteString(" END")
	return b.String(), args
}
