package sqlstore

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/latchkey/latchkey/internal/tracing"
)

// Statement is a statement of a pipeline (Dialect.Pipeline).
type Statement struct {
	Query string
	Args  []any
	// Row, when set, reads each row the statement returns.
	Row func(row interface{ Scan(...any) error }) error
}

// piped is a statement that a transaction runs later (tx.later): done
// gets its count of affected (or returned) rows, or its error, classified,
// and returns the error that the statement is to fail with, if any.
type piped struct {
	Statement
	onForeignKey error
	done         func(n int64, err error) error
}

// pipeline holds the statements a pipelined transaction has not sent yet,
// and the first error of those it sent.
type pipeline struct {
	conn  *sql.Conn
	stmts []piped
	sent  bool // any
	err   error
}

// later runs s now, or, in a pipelined transaction (Store.updatePiped),
// with the statements after it, when the transaction next needs an answer
// (flush): on PostgreSQL in one round trip. A statement's failure, and
// what done makes of its result, is then flush's error, and the
// transaction's. Statements that decide what comes next, or whose error a
// caller tells apart, run now (exec, or flush first).
func (t *tx) later(ctx context.Context, s piped) error {
	if t.pipe == nil {
		n, err := t.run(ctx, s.Statement)
		return s.finish(n, t.classify(err, s.onForeignKey))
	}
	t.pipe.stmts = append(t.pipe.stmts, s)
	return nil
}

// finish is s's outcome: done's, or err.
func (s piped) finish(n int64, err error) error {
	if s.done == nil {
		return err
	}
	return s.done(n, err)
}

// run runs s on its own and returns its count of affected or returned rows.
func (t *tx) run(ctx context.Context, s Statement) (int64, error) {
	if s.Row == nil {
		res, err := t.w.ExecContext(ctx, s.Query, s.Args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	rows, err := t.w.QueryContext(ctx, s.Query, s.Args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return s.ReadRows(rows)
}

// ReadRows reads each of the statement's rows with s.Row and returns how
// many there were.
func (s Statement) ReadRows(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (int64, error) {
	var n int64
	for rows.Next() {
		if err := s.Row(rows); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// flush sends the statements that later held, and returns the first
// error of the transaction's pipeline: after one, the engine runs nothing
// more of the transaction.
func (t *tx) flush(ctx context.Context) error {
	p := t.pipe
	if p == nil || p.err != nil || len(p.stmts) == 0 {
		return p.firstErr()
	}
	stmts := p.stmts
	p.stmts, p.sent = nil, true
	sent := make([]Statement, len(stmts))
	for i, s := range stmts {
		sent[i] = s.Statement
	}
	ctx, end := tracing.StartStatement(ctx, t.d.system(), "PIPELINE "+strconv.Itoa(len(sent))+": "+sent[0].Query)
	var counts []int64
	err := p.conn.Raw(func(driverConn any) error {
		var err error
		counts, err = t.d.Pipeline(ctx, driverConn, sent)
		return err
	})
	end(err)
	for i, n := range counts {
		if p.err = stmts[i].finish(n, nil); p.err != nil {
			return p.err
		}
	}
	if err != nil {
		p.err = stmts[len(counts)].finish(0, t.classify(err, stmts[len(counts)].onForeignKey))
	}
	return p.err
}

func (p *pipeline) firstErr() error {
	if p == nil {
		return nil
	}
	return p.err
}

// flushing is a pipelined transaction's querier: a statement run now
// runs after those that later held.
type flushing struct {
	querier
	t *tx
}

func (f flushing) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := f.t.flush(ctx); err != nil {
		return nil, err
	}
	return f.querier.ExecContext(ctx, query, args...)
}

func (f flushing) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := f.t.flush(ctx); err != nil {
		return nil, err
	}
	return f.querier.QueryContext(ctx, query, args...)
}

// QueryRowContext cannot return flush's error: the statement then fails
// in the failed transaction, and the transaction returns flush's error.
func (f flushing) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	f.t.flush(ctx)
	return f.querier.QueryRowContext(ctx, query, args...)
}
