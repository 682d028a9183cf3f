package sqlstore

import (
	"context"
	"database/sql"

	"github.com/latchkey/latchkey/internal/tracing"
)

// traced returns q, with a span for each statement when traces are
// exported (decided when the store opens: off, nothing is wrapped).
func (s *Store) traced(q querier) querier {
	if !tracing.Enabled() {
		return q
	}
	return tracedQuerier{q, s.dialect.system()}
}

type tracedQuerier struct {
	q      querier
	system string
}

func (t tracedQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, end := tracing.StartStatement(ctx, t.system, query)
	res, err := t.q.ExecContext(ctx, query, args...)
	end(err)
	return res, err
}

// QueryContext's span ends when the first rows are there, not when they
// have been read.
func (t tracedQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, end := tracing.StartStatement(ctx, t.system, query)
	rows, err := t.q.QueryContext(ctx, query, args...)
	end(err)
	return rows, err
}

func (t tracedQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, end := tracing.StartStatement(ctx, t.system, query)
	row := t.q.QueryRowContext(ctx, query, args...)
	end(row.Err())
	return row
}
