package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
)

// args collects the parameters of one statement and hands out their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// in returns "(p1, p2, …)" for the values. For no values it returns
// "(NULL)", which no value is IN on any engine: PostgreSQL rejects "()".
func (a *args) in(values []string) string {
	if len(values) == 0 {
		return "(NULL)"
	}
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = a.add(v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// values returns the VALUES list of a multi-row INSERT and its parameters.
// SQLite gets anonymous "?" placeholders: it looks "$N" names up one by one
// when it prepares and binds a statement, which is quadratic in their
// number (most of the time of a 500-row insert).
func (t *tx) values(rows [][]any) (string, args) {
	var a args
	var b strings.Builder
	for i, row := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, v := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.add(&a, v))
		}
		b.WriteByte(')')
	}
	return b.String(), a
}

// insertBatch bounds the rows of one multi-row INSERT on SQLite, below its
// limit of 32766 parameters.
const insertBatch = 500

// arrayInsertFrom is the number of rows from which insert binds arrays on
// PostgreSQL.
const arrayInsertFrom = 64

// insert runs prefix (INSERT INTO table (columns)) for rows, each of the
// same column types, with suffix after the rows (ON CONFLICT …). SQLite
// takes a multi-row VALUES list of insertBatch rows at a time (it limits
// parameters). PostgreSQL takes many rows in one statement, one array per
// column: binding 12 arrays costs pgx and the server less than binding
// 6,000 parameters, and the statement is prepared once for any number of
// rows. A few rows (one identity of an API create) take VALUES there too,
// which PostgreSQL runs without unnesting arrays (in one load test of API
// creates, 0.61 ms of PostgreSQL CPU per create with arrays, 0.44–0.51 with
// VALUES). In a pipelined transaction the rows are inserted later
// (tx.later).
func (t *tx) insert(ctx context.Context, onForeignKey error, prefix string, rows [][]any, suffix string) error {
	if len(rows) == 0 {
		return nil
	}
	if t.d.Name != "postgres" || len(rows) < arrayInsertFrom {
		for chunk := range slices.Chunk(rows, insertBatch) {
			values, a := t.values(chunk)
			if err := t.later(ctx, piped{Statement: Statement{Query: prefix + ` VALUES ` + values + suffix, Args: a}, onForeignKey: onForeignKey}); err != nil {
				return err
			}
		}
		return nil
	}
	arrays := make([]string, len(rows[0]))
	a := make(args, len(rows[0]))
	for j, v := range rows[0] {
		var sqlType string
		switch v.(type) {
		case string:
			a[j], sqlType = arrayOf[string](rows, j), "TEXT"
		case int64:
			a[j], sqlType = arrayOf[int64](rows, j), "BIGINT"
		case int:
			a[j], sqlType = arrayOf[int](rows, j), "BIGINT"
		case []byte:
			a[j], sqlType = arrayOf[[]byte](rows, j), "BYTEA"
		case bool:
			a[j], sqlType = arrayOf[bool](rows, j), "BOOLEAN"
		default:
			return fmt.Errorf("insert: no array type for %T", v)
		}
		arrays[j] = "CAST($" + strconv.Itoa(j+1) + " AS " + sqlType + "[])"
	}
	return t.later(ctx, piped{Statement: Statement{Query: prefix + ` SELECT * FROM unnest(` + strings.Join(arrays, ", ") + `)` + suffix, Args: a},
		onForeignKey: onForeignKey})
}

// arrayOf returns column j of rows, whose values are all of type T.
func arrayOf[T any](rows [][]any, j int) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = r[j].(T)
	}
	return out
}

// add adds a parameter as values does: in the statement's order, never
// reused.
func (t *tx) add(a *args, v any) string {
	if t.d.Name == "sqlite" {
		*a = append(*a, v)
		return "?"
	}
	return a.add(v)
}

// in is args.in with placeholders as add makes them.
func (t *tx) in(a *args, values []string) string {
	if len(values) == 0 {
		return "(NULL)"
	}
	ph := make([]string, len(values))
	for i, v := range values {
		ph[i] = t.add(a, v)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// column is where a filter attribute is stored and how it compares.
type column struct {
	name string // a column, or for kind trait the JSON column
	kind columnKind
	key  string // for kind trait: the key inside the JSON column
	// unique: no two rows of a list hold the same value (the list's own
	// conditions, such as its realm, and a unique index make it so).
	unique bool
}

// atMostOne reports whether the filter e matches at most one row: eq on a
// unique column, or a conjunction with such a side.
func atMostOne(e filter.Expr, cols map[string]column) bool {
	switch e := e.(type) {
	case *filter.And:
		return atMostOne(e.Left, cols) || atMostOne(e.Right, cols)
	case *filter.Compare:
		return e.Op == filter.Eq && cols[e.Attr].unique
	}
	return false
}

type columnKind int

const (
	exact  columnKind = iota // compared as stored
	folded                   // holds directory.Fold of the value; operands are folded too
	// foldedKey is folded, collated bytewise and indexed: a prefix test is
	// an index range, so that a search by prefix is fast in any realm.
	foldedKey
	trait     // a string inside a JSON column, compared case-insensitively
	timestamp // Unix microseconds; operands are RFC 3339 times
	member    // name is a group id column; eq tests membership of the operand
	lowered   // stored in lower case; operands are lowered
	caseless  // compared lowered on both sides
)

// expr is the SQL expression a column compares by.
func (c column) expr(d *Dialect) string {
	switch c.kind {
	case trait:
		return "lower(COALESCE(" + d.JSONText(c.name, c.key) + ", ''))"
	case caseless:
		return "lower(" + c.name + ")"
	}
	return c.name
}

func invalidFilter(format string, a ...any) error {
	return latchkey.InvalidField("filter", fmt.Sprintf(format, a...))
}

// where translates a filter into a parameterised SQL condition. Attributes
// were checked against the endpoint's allowlist before; one without a column
// here is a programming error, reported rather than ignored.
func (a *args) where(e filter.Expr, cols map[string]column, d *Dialect) (string, error) {
	switch e := e.(type) {
	case *filter.And:
		return a.binary(e.Left, e.Right, "AND", cols, d)
	case *filter.Or:
		return a.binary(e.Left, e.Right, "OR", cols, d)
	case *filter.Not:
		x, err := a.where(e.X, cols, d)
		return "NOT (" + x + ")", err
	case *filter.Compare:
		col, ok := cols[e.Attr]
		if !ok {
			return "", fmt.Errorf("no column for filter attribute %q", e.Attr)
		}
		return a.compare(col, e, d)
	}
	return "", fmt.Errorf("unsupported filter expression %T", e)
}

var sqlOps = map[filter.Op]string{filter.Eq: " = ", filter.Ne: " <> ", filter.Gt: " > ", filter.Ge: " >= ", filter.Lt: " < ", filter.Le: " <= "}

func (a *args) compare(col column, e *filter.Compare, d *Dialect) (string, error) {
	x := col.expr(d)
	v, _ := e.Value.(string)
	switch col.kind {
	case member:
		if e.Op != filter.Eq && e.Op != filter.Pr {
			return "", invalidFilter("%s supports only eq and pr", e.Attr)
		}
		sub := "SELECT 1 FROM memberships mm WHERE mm.group_id = " + col.name
		if e.Op == filter.Eq {
			sub += " AND mm.identity_id = " + a.add(v)
		}
		return "EXISTS (" + sub + ")", nil
	case timestamp:
		if e.Op == filter.Pr {
			return x + " IS NOT NULL", nil
		}
		op, ok := sqlOps[e.Op]
		t, err := time.Parse(time.RFC3339Nano, v)
		if !ok || err != nil {
			return "", invalidFilter("%s compares with eq, ne, gt, ge, lt or le to an RFC 3339 time", e.Attr)
		}
		return x + op + a.add(micros(t)), nil
	case folded, foldedKey, trait:
		v = directory.Fold(v)
	case lowered, caseless:
		v = strings.ToLower(v)
	}
	if e.Op == filter.Pr {
		return x + " <> ''", nil
	}
	if v == "" && (e.Op == filter.Co || e.Op == filter.Sw || e.Op == filter.Ew) {
		return "1 = 1", nil
	}
	p := a.add(v)
	switch e.Op {
	case filter.Co:
		return d.Contains(x, p), nil
	case filter.Sw:
		if col.kind == foldedKey {
			return d.PrefixRange(x, p), nil
		}
		return d.StartsWith(x, p), nil
	case filter.Ew:
		return d.EndsWith(x, p), nil
	}
	if op, ok := sqlOps[e.Op]; ok {
		return x + op + p, nil
	}
	return "", invalidFilter("unsupported operator %q", e.Op)
}

func (a *args) binary(l, r filter.Expr, op string, cols map[string]column, d *Dialect) (string, error) {
	ls, err := a.where(l, cols, d)
	if err != nil {
		return "", err
	}
	rs, err := a.where(r, cols, d)
	return "(" + ls + " " + op + " " + rs + ")", err
}

// orderBy returns the ORDER BY clause of a list: by key, or by the sort
// attribute with key breaking ties.
func orderBy(q listQuery, opts latchkey.ListOptions, d *Dialect) (string, error) {
	dir := " ASC"
	if q.desc != opts.Descending {
		dir = " DESC"
	}
	if opts.Sort == "" {
		return q.key + dir, nil
	}
	col, ok := q.filter[opts.Sort]
	if !ok || col.kind == member {
		return "", latchkey.InvalidField("sortBy", "cannot sort by "+opts.Sort)
	}
	if opts.After != "" {
		return "", fmt.Errorf("a sorted list pages by skip, not after")
	}
	return col.expr(d) + dir + ", " + q.key + " ASC", nil
}

// listQuery describes one paged list: rows of from matching conds (whose
// parameters are already in args), keyed and ordered by key.
type listQuery struct {
	columns string // the selected columns
	from    string
	key     string // the unique column pages are ordered by
	conds   []string
	args    args
	filter  map[string]column
	desc    bool
	// fastCount, when set, counts the unfiltered list more cheaply than count(*).
	fastCount string
	// countUpTo, when set, bounds the count: it stops at countUpTo+1 matches,
	// so that its cost does not grow with the table.
	countUpTo int
	// buckets, when set, returns (prefix, count) rows in key order that
	// partition the unfiltered list: all keys starting with a prefix, and
	// only those, lie between the keys of the buckets before and after it.
	// A deep skip of that list starts at its bucket (seek).
	buckets string
}

// seekFrom is the skip from which a list with buckets seeks: below it,
// stepping over the keys costs less than reading the buckets.
const seekFrom = 1000

// seek returns where the skip-th row of q's unfiltered list is: in the
// bucket whose keys start with prefix, after rest rows of it. Past the
// last row it points past the last bucket's rows.
func (t *tx) seek(ctx context.Context, q listQuery, skip int) (prefix string, rest int, err error) {
	rows, err := t.r.QueryContext(ctx, q.buckets, q.args...)
	if err != nil {
		return "", 0, err
	}
	defer rows.Close()
	rest = skip
	var n int
	for rows.Next() {
		if err := rows.Scan(&prefix, &n); err != nil {
			return "", 0, err
		}
		if rest < n {
			return prefix, rest, nil
		}
		rest -= n
	}
	return prefix, rest + n, rows.Err()
}

// list runs q for one page and returns the total number of matches. scan is
// called for each row.
func (t *tx) list(ctx context.Context, q listQuery, opts latchkey.ListOptions, scan func(*sql.Rows) error) (int, error) {
	a := q.args
	conds := q.conds
	if opts.Filter != nil {
		c, err := a.where(opts.Filter, q.filter, t.d)
		if err != nil {
			return 0, err
		}
		conds = append(conds, c)
	}
	countSQL := "SELECT count(*) FROM " + q.from + " WHERE " + strings.Join(conds, " AND ")
	if q.countUpTo > 0 {
		// In the list's order, so that it walks the index the pages do: in
		// another one (SQLite, without statistics, takes a covering index by
		// action for action sw "sign_in."), the first countUpTo+1 matches may
		// lie behind millions of rows that do not match.
		countSQL = "SELECT count(*) FROM (SELECT 1 FROM " + q.from + " WHERE " + strings.Join(conds, " AND ") +
			" ORDER BY " + q.key + map[bool]string{true: " DESC", false: ""}[q.desc] + " LIMIT " + strconv.Itoa(q.countUpTo+1) + ") m"
	} else if q.fastCount != "" && opts.Filter == nil {
		countSQL = q.fastCount
	}
	countArgs := a[:len(a):len(a)]
	order, err := orderBy(q, opts, t.d)
	if err != nil {
		return 0, err
	}
	if opts.After != "" {
		cmp := " > "
		if q.desc {
			cmp = " < "
		}
		conds = append(conds, q.key+cmp+a.add(opts.After))
	}
	skipped := opts.Skip // seeking below rewrites opts.Skip relative to a bucket
	if q.buckets != "" && opts.Skip >= seekFrom && opts.Filter == nil && opts.Sort == "" && !q.desc && !opts.Descending && opts.After == "" {
		prefix, rest, err := t.seek(ctx, q, opts.Skip)
		if err != nil {
			return 0, err
		}
		if prefix != "" {
			conds = append(conds, q.key+" >= "+a.add(prefix))
			opts.Skip = rest
		}
	}
	where := strings.Join(conds, " AND ")
	page := " ORDER BY " + order + " LIMIT " + a.add(opts.Limit) + " OFFSET " + a.add(opts.Skip)
	if opts.Skip > 0 {
		// Skip over keys alone, then read whole rows for the page only:
		// PostgreSQL would otherwise fetch every skipped row from the table
		// (1 s at an offset of 500,000). Keys are unique, so the rows and
		// their order are the same.
		where += " AND " + q.key + " IN (SELECT " + q.key + " FROM " + q.from + " WHERE " + where + page + ")"
		page = " ORDER BY " + order
	}
	sqlText := "SELECT " + q.columns + " FROM " + q.from + " WHERE " + where + page
	rows, err := t.r.QueryContext(ctx, sqlText, a...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for ; rows.Next(); n++ {
		if err := scan(rows); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil || opts.SkipTotal {
		return 0, err
	}
	// A first page that holds every match is the list: its length is the
	// total, with no second statement (an exact lookup by a unique key
	// always is one, at any page size).
	if skipped == 0 && opts.After == "" && opts.Limit > 0 &&
		(n < opts.Limit || opts.Filter != nil && atMostOne(opts.Filter, q.filter)) {
		return n, nil
	}
	var total int
	return total, t.r.QueryRowContext(ctx, countSQL, countArgs...).Scan(&total)
}

// listOf runs q for one page with list, scanning each row into a T that it
// appends to out.
func listOf[T any](ctx context.Context, t *tx, q listQuery, opts latchkey.ListOptions, out []T,
	scan func(interface{ Scan(...any) error }, *T) error) ([]T, int, error) {
	total, err := t.list(ctx, q, opts, func(rows *sql.Rows) error {
		var v T
		err := scan(rows, &v)
		out = append(out, v)
		return err
	})
	return out, total, err
}

// one scans a single row, turning sql.ErrNoRows into latchkey.ErrNotFound.
func one(row *sql.Row, dest ...any) error {
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return latchkey.ErrNotFound
	}
	return err
}

// exec runs a write and classifies constraint errors. onForeignKey is what a
// foreign key violation means for this statement.
func (t *tx) exec(ctx context.Context, onForeignKey error, query string, a ...any) (sql.Result, error) {
	res, err := t.w.ExecContext(ctx, query, a...)
	return res, t.classify(err, onForeignKey)
}

func (t *tx) classify(err, onForeignKey error) error {
	if err == nil {
		return nil
	}
	switch c := t.d.Classify(err); {
	case errors.Is(c, ErrUnique):
		return fmt.Errorf("%w: %v", latchkey.ErrDuplicate, err)
	case errors.Is(c, ErrForeignKey):
		return fmt.Errorf("%w: %v", onForeignKey, err)
	}
	return err
}

// allAffected is the outcome (a piped's done) of a statement that must
// change n rows: else latchkey.ErrNotFound.
func allAffected(n int) func(int64, error) error {
	return func(changed int64, err error) error {
		if err == nil && changed < int64(n) {
			return latchkey.ErrNotFound
		}
		return err
	}
}

// bigint is a placeholder cast to BIGINT: a VALUES list's parameters have
// no column to take their type from on PostgreSQL.
func bigint(placeholder string) string { return "CAST(" + placeholder + " AS BIGINT)" }

// affected returns latchkey.ErrNotFound when a write changed no row.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return latchkey.ErrNotFound
	}
	return nil
}

// fields is where a row's columns go (dest, for Scan) and what turns the
// scanned values into the domain type's (decode), so that one row can fill
// several values, as a join does.
type fields struct {
	dest   []any
	decode func() error // or nil
}

// scanFields scans one row into fs, in order.
func scanFields(s interface{ Scan(...any) error }, fs ...fields) error {
	var dest []any
	for _, f := range fs {
		dest = append(dest, f.dest...)
	}
	if err := s.Scan(dest...); err != nil {
		return err
	}
	for _, f := range fs {
		if f.decode == nil {
			continue
		}
		if err := f.decode(); err != nil {
			return err
		}
	}
	return nil
}

// qualified prefixes each column of a comma-separated list with a table alias.
func qualified(alias, columns string) string {
	cols := strings.Split(columns, ",")
	for k, c := range cols {
		cols[k] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
