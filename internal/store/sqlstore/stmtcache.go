package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Bounds of a statement cache. The package's fixed statements number about
// three hundred, none longer than 700 bytes, and the hot ones are seen
// within the first requests; the rest are shapes of filters, IN lists and
// multi-row inserts, which can be many. Past maxCachedStmts a query runs
// uncached rather than evicting one: eviction would cost every call some
// bookkeeping to serve statements that are rarely repeated. A query longer
// than maxCachedQuery always runs uncached: SQLite takes some 20 bytes a
// connection for each byte of a prepared INSERT (300 KB for 200 token rows),
// and the long queries are the variable-length ones, rarely repeated. The
// fixed statements take 1.5 MB a connection.
const (
	maxCachedStmts = 512
	maxCachedQuery = 1024
)

// stmtCache is a querier on a *sql.DB that prepares each distinct query
// once and runs it as that *sql.Stmt from then on, for drivers that do
// not cache statements themselves (modernc.org/sqlite parses the SQL on
// every call: a tenth of a sign-in's CPU, a fifth of a passkey bind's).
// database/sql prepares a Stmt once on each connection it runs on and
// keeps it there.
type stmtCache struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
	// missed are the queries that transactions ran uncached, for
	// prepareMissed.
	missed map[string]struct{}
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt), missed: make(map[string]struct{})}
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := c.prepare(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := c.prepare(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := c.prepare(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// lookup returns the cached statement for query, or nil, and whether query
// may be cached: it is short enough and there is room.
func (c *stmtCache) lookup(query string) (s *sql.Stmt, cacheable bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stmts[query], len(query) <= maxCachedQuery && len(c.stmts)+len(c.missed) < maxCachedStmts
}

// prepare returns the statement for query, preparing and caching it on
// first use, or nil when the query is to run uncached: it may not be
// cached, or it does not prepare. Then the uncached call returns the same
// error a prepare would have.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	if s, cacheable := c.lookup(query); s != nil || !cacheable {
		return s
	}
	// Outside the lock: preparing waits for a connection.
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cached := c.stmts[query]; cached != nil || len(c.stmts) >= maxCachedStmts {
		s.Close() // prepared meanwhile by another call, or no room left
		return cached
	}
	c.stmts[query] = s
	return s
}

// inTx returns the cached statement for a query that a transaction runs,
// or nil, noting a query that may be cached for prepareMissed.
func (c *stmtCache) inTx(query string) *sql.Stmt {
	s, cacheable := c.lookup(query)
	if s == nil && cacheable {
		c.mu.Lock()
		c.missed[query] = struct{}{}
		c.mu.Unlock()
	}
	return s
}

// prepareMissed prepares the queries that transactions ran uncached. It is
// called once a transaction has ended, its connection free again.
func (c *stmtCache) prepareMissed(ctx context.Context) {
	c.mu.Lock()
	missed := c.missed
	c.missed = make(map[string]struct{})
	c.mu.Unlock()
	for query := range missed {
		c.prepare(ctx, query)
	}
}

// Close closes the cached statements. It closes them outside the lock: a
// statement's Close waits for its calls in flight, and one of those may
// wait for the connection of a transaction that waits for the lock (a
// node's workers still running while the store closes: CI saw the three
// wait for each other).
func (c *stmtCache) Close() error {
	c.mu.Lock()
	stmts := c.stmts
	c.stmts = make(map[string]*sql.Stmt)
	c.mu.Unlock()
	var err error
	for _, s := range stmts {
		err = errors.Join(err, s.Close())
	}
	return err
}

// cachedTx is a querier on a transaction of the cache's DB. It runs the
// queries the cache holds as its statements, which database/sql reuses on
// the transaction's connection, and the others uncached: preparing into
// the cache takes a connection of the DB, and SQLite's writer has just the
// one the transaction holds. The cache prepares those after the
// transaction.
//
// A transaction must not run a query again while Rows of it are open:
// both would step the one SQLite statement of the connection. (Nothing in
// the package does; outside a transaction open Rows hold their connection
// and the query runs on another.)
type cachedTx struct {
	tx    *sql.Tx
	cache *stmtCache
}

func (t cachedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := t.cache.inTx(query); s != nil {
		return t.tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t cachedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := t.cache.inTx(query); s != nil {
		return t.tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t cachedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.cache.inTx(query); s != nil {
		return t.tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}
