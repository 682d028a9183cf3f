package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingDriver is a database that counts the statements it prepares and
// closes. It has no Exec or Query of its own, so database/sql prepares
// every uncached query too. Queries starting with BAD do not prepare.
type countingDriver struct{ prepares, closes atomic.Int64 }

var errBadSQL = errors.New("bad SQL")

func (d *countingDriver) Open(string) (driver.Conn, error)             { return countingConn{d}, nil }
func (d *countingDriver) Connect(context.Context) (driver.Conn, error) { return countingConn{d}, nil }
func (d *countingDriver) Driver() driver.Driver                        { return d }

type countingConn struct{ d *countingDriver }

func (c countingConn) Prepare(query string) (driver.Stmt, error) {
	if strings.HasPrefix(query, "BAD") {
		return nil, errBadSQL
	}
	c.d.prepares.Add(1)
	return countingStmt{c.d}, nil
}
func (countingConn) Close() error              { return nil }
func (countingConn) Begin() (driver.Tx, error) { return countingTx{}, nil }

type countingTx struct{}

func (countingTx) Commit() error   { return nil }
func (countingTx) Rollback() error { return nil }

type countingStmt struct{ d *countingDriver }

func (s countingStmt) Close() error                             { s.d.closes.Add(1); return nil }
func (countingStmt) NumInput() int                              { return -1 }
func (countingStmt) Exec([]driver.Value) (driver.Result, error) { return driver.RowsAffected(1), nil }
func (countingStmt) Query([]driver.Value) (driver.Rows, error)  { return &oneRow{}, nil }

type oneRow struct{ done bool }

func (*oneRow) Columns() []string { return []string{"v"} }
func (*oneRow) Close() error      { return nil }
func (r *oneRow) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = int64(1)
	return nil
}

// cachingStore returns a Store that caches statements, on one connection
// (as SQLite's writer) unless conns says more, and the driver's counts.
func cachingStore(t *testing.T, conns int) (*Store, *countingDriver) {
	d := &countingDriver{}
	db := sql.OpenDB(d)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return New(db, db, Dialect{CacheStatements: true}), d
}

func queryOne(t *testing.T, q querier, query string) {
	t.Helper()
	var v int
	if err := q.QueryRowContext(t.Context(), query).Scan(&v); err != nil || v != 1 {
		t.Errorf("%s: %d, %v", query, v, err)
	}
}

func TestStmtCachePreparesOnce(t *testing.T) {
	s, d := cachingStore(t, 1)
	for range 3 {
		queryOne(t, s.tx.r, "SELECT 1")
		if _, err := s.tx.w.ExecContext(t.Context(), "UPDATE t SET v = 1"); err != nil {
			t.Fatal(err)
		}
		rows, err := s.tx.r.QueryContext(t.Context(), "SELECT 2")
		if err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	if n := d.prepares.Load(); n != 3 {
		t.Errorf("3 queries run 3 times: %d prepares, want 3", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if p, c := d.prepares.Load(), d.closes.Load(); p != c {
		t.Errorf("after Close: %d statements prepared, %d closed", p, c)
	}
}

func TestStmtCacheBounds(t *testing.T) {
	s, d := cachingStore(t, 1)
	defer s.Close()
	for i := range maxCachedStmts + 10 {
		queryOne(t, s.tx.r, fmt.Sprint("SELECT ", i))
	}
	if n := len(s.reads.stmts); n != maxCachedStmts {
		t.Errorf("%d statements cached, want %d", n, maxCachedStmts)
	}
	long := "SELECT 1 -- " + strings.Repeat("x", maxCachedQuery)
	before := d.prepares.Load()
	queryOne(t, s.tx.r, fmt.Sprint("SELECT ", maxCachedStmts)) // past the bound
	queryOne(t, s.tx.r, long)
	if n := d.prepares.Load() - before; n != 2 {
		t.Errorf("queries not cached: %d prepares, want 2", n)
	}
	if _, ok := s.reads.stmts[long]; ok {
		t.Error("a query longer than maxCachedQuery was cached")
	}
}

func TestStmtCacheInTx(t *testing.T) {
	s, d := cachingStore(t, 1)
	defer s.Close()
	// With one connection, preparing into the cache during the transaction
	// would wait for ever.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	run := func(fail error) {
		t.Helper()
		err := s.update(ctx, func(t2 *tx) error {
			queryOne(t, t2.r, "SELECT 1")
			return fail
		})
		if err != fail {
			t.Fatalf("update: %v", err)
		}
	}
	run(nil) // uncached in the transaction, prepared after it
	if n := d.prepares.Load(); n != 2 {
		t.Errorf("first transaction: %d prepares, want 2", n)
	}
	errRollback := errors.New("roll back")
	run(errRollback)
	run(nil)
	queryOne(t, s.tx.r, "SELECT 1")
	if n := d.prepares.Load(); n != 2 {
		t.Errorf("after a rollback, a commit and outside: %d prepares, want still 2", n)
	}
}

func TestStmtCacheBadSQL(t *testing.T) {
	s, _ := cachingStore(t, 1)
	defer s.Close()
	if err := s.tx.r.QueryRowContext(t.Context(), "BAD").Scan(new(int)); !errors.Is(err, errBadSQL) {
		t.Errorf("QueryRow: %v, want %v", err, errBadSQL)
	}
	if _, err := s.tx.w.ExecContext(t.Context(), "BAD"); !errors.Is(err, errBadSQL) {
		t.Errorf("Exec: %v, want %v", err, errBadSQL)
	}
	err := s.update(t.Context(), func(t2 *tx) error {
		_, err := t2.w.ExecContext(t.Context(), "BAD")
		return err
	})
	if !errors.Is(err, errBadSQL) {
		t.Errorf("Exec in a transaction: %v, want %v", err, errBadSQL)
	}
	if n := len(s.reads.stmts); n != 0 {
		t.Errorf("%d statements cached", n)
	}
}

func TestStmtCacheConcurrent(t *testing.T) {
	s, _ := cachingStore(t, 4)
	defer s.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				query := fmt.Sprint("SELECT ", (g+i)%10)
				if g%2 == 0 {
					queryOne(t, s.tx.r, query)
					continue
				}
				if err := s.update(t.Context(), func(t2 *tx) error { queryOne(t, t2.r, query); return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if n := len(s.reads.stmts); n != 10 {
		t.Errorf("%d statements cached, want 10", n)
	}
}
