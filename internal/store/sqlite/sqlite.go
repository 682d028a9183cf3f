// Package sqlite opens Latchkey's embedded SQLite database (pure Go,
// modernc.org/sqlite) as a sqlstore.Store. It is the only package that
// imports the SQLite driver. It must not import HTTP packages.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unsafe"

	"github.com/pressly/goose/v3"
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// Open opens (creating it if needed) the SQLite database at path, in WAL
// mode with foreign keys on and a busy timeout.
func Open(path string) (*sqlstore.Store, error) {
	dsn := func(pragmas ...string) string { return dsn(path, pragmas...) }
	reader, err := sql.Open("sqlite", dsn())
	if err != nil {
		return nil, err
	}
	// The writer's cache holds more of the indexes that take random ids
	// (32 MiB, not 2): a batch of new identities dirties pages all over the
	// id indexes, which a small cache spills and reads back. An import of
	// 1,000,000 rows went from 64 s to 49 s end to end.
	//
	// The writer does not checkpoint the WAL itself (checkpoint, below, does
	// in the background) unless the WAL outgrows walLimit pages.
	//
	// Its statement journals stay in memory: see journalsInMemory. Its other
	// temporary storage (sorts, temporary tables) then takes SQLite's default,
	// as the readers': memory up to the cache's size, a temporary file past it.
	pragmas := []string{"cache_size(-32768)", fmt.Sprintf("wal_autocheckpoint(%d)", walLimit)}
	if !journalsInMemory {
		pragmas = append(pragmas, "temp_store(MEMORY)")
	}
	writer, err := sql.Open("sqlite", dsn(pragmas...))
	if err != nil {
		reader.Close()
		return nil, err
	}
	// One writing connection: writers wait their turn in Go rather than in
	// SQLite's busy loop.
	writer.SetMaxOpenConns(1)
	reader.SetMaxOpenConns(8)
	// Keep them all open when idle (database/sql keeps two): a new one
	// costs its opening and the preparing of its statements again.
	reader.SetMaxIdleConns(8)
	if err := writer.Ping(); err != nil {
		reader.Close()
		writer.Close()
		return nil, err
	}
	return sqlstore.New(reader, writer, dialect), nil
}

// statementJournalLimit is the size up to which a statement journal stays
// in memory, and the one block of memory that holds it (16 MiB).
const statementJournalLimit = 16 << 20

// journalsInMemory says that the process's statement journals stay in
// memory up to statementJournalLimit, set before any connection opens (the
// setting is SQLite's and the process's). A statement that may fail on a
// constraint after it changed rows (an INSERT of 500 rows into a table
// with keys) journals every page it changes first, to undo itself alone.
// SQLite keeps that journal in memory up to 64 KiB and writes the rest to
// a temporary file, a system call a page (8 % of an import's CPU); with
// temp_store=MEMORY it keeps all of it in memory, but in blocks of 1 KiB,
// which the allocator hands back to the kernel and faults in again with
// every large statement (a quarter of the CPU of an import of 1,000,000
// rows with groups). One block of statementJournalLimit is taken once and
// reused. Should SQLite refuse the setting, the writer keeps its journals
// in memory with temp_store=MEMORY.
var journalsInMemory = func() bool {
	tls := libc.NewTLS()
	defer tls.Close()
	va := libc.Xmalloc(tls, types.Size_t(unsafe.Sizeof(uintptr(0))))
	if va == 0 {
		return false
	}
	defer libc.Xfree(tls, va)
	return sqlite3.Xsqlite3_config(tls, sqlite3.SQLITE_CONFIG_STMTJRNL_SPILL, libc.VaList(va, int32(statementJournalLimit))) == sqlite3.SQLITE_OK
}()

// checkpointEvery is how often checkpoint copies the WAL into the
// database; walLimit (pages of 4 KiB, 64 MiB) is the WAL the writer lets
// grow before it checkpoints itself, should checkpoint fall behind.
const (
	checkpointEvery = 100 * time.Millisecond
	walLimit        = 16384
)

// checkpoint copies the committed pages of the WAL into the database file
// every checkpointEvery until ctx ends. It runs beside the writer, not in
// its commits (SQLite's default, at every 1,000 pages): a checkpoint syncs
// the file to disk, and while the one writer waits for the disk every
// other write waits for it. PASSIVE takes no lock that a reader or the
// writer waits for; once it has copied everything, the next write starts
// the WAL from its beginning again.
func checkpoint(ctx context.Context, db *sql.DB) {
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// A failure (the disk full, say) is the writer's to report: the
		// next tick tries again, and walLimit bounds the WAL meanwhile.
		db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
	}
}

func dsn(path string, pragmas ...string) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + url.Values{
		"_pragma": append([]string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"}, pragmas...),
		"_txlock": {"immediate"},
	}.Encode()
}

// Snapshot writes a consistent copy of the database at path to out (which
// must not exist) with VACUUM INTO: one read transaction, so that the
// nodes writing meanwhile neither wait for it nor tear it.
func Snapshot(ctx context.Context, path, out string) error {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", out)
	return err
}

// Check runs SQLite's integrity check on the database at path and its
// foreign keys' check, and says what is wrong.
func Check(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return err
	}
	defer db.Close()
	var problems []string
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return err
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	var table string
	switch err := db.QueryRowContext(ctx, "PRAGMA foreign_key_check").Scan(&table, new(any), new(any), new(any)); {
	case err == nil:
		problems = append(problems, "a row of "+table+" refers to a missing row")
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("the database is damaged: %s", strings.Join(problems, "; "))
	}
	return nil
}

var dialect = sqlstore.Dialect{
	Name:  "sqlite",
	Goose: goose.DialectSQLite3,
	Classify: func(err error) error {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return err
		}
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return sqlstore.ErrUnique
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return sqlstore.ErrForeignKey
		}
		return err
	},
	Contains:   func(c, p string) string { return "instr(" + c + ", " + p + ") > 0" },
	StartsWith: func(c, p string) string { return "substr(" + c + ", 1, length(" + p + ")) = " + p },
	EndsWith:   func(c, p string) string { return "substr(" + c + ", -length(" + p + ")) = " + p },
	JSONText:   func(c, key string) string { return "json_extract(" + c + ", '$." + key + "')" },
	// Columns collate bytewise (BINARY) by default; U+10FFFF sorts after
	// every character that may follow the prefix.
	PrefixRange: func(c, p string) string { return "(" + c + " >= " + p + " AND " + c + " < " + p + " || char(1114111))" },
	// The driver parses every statement it is given anew.
	CacheStatements: true,
	Migrations:      []*goose.Migration{membershipsWithoutRowid},
	Maintain:        checkpoint,
}

// membershipsWithoutRowid stores memberships in the B-tree of their primary
// key alone (WITHOUT ROWID), not in a table of rowids beside it: a
// membership is then written twice (with the index by identity), not
// three times. Version 30 is the engine's own: PostgreSQL has no such tables.
var membershipsWithoutRowid = goose.NewGoMigration(30,
	&goose.GoFunc{RunTx: rebuildMemberships(" WITHOUT ROWID")}, &goose.GoFunc{RunTx: rebuildMemberships("")})

// rebuildMemberships copies the memberships into a table made with the
// options given, as SQLite changes a table.
func rebuildMemberships(options string) func(context.Context, *sql.Tx) error {
	return func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `
CREATE TABLE memberships_new (
    group_id    TEXT NOT NULL REFERENCES user_groups (id),
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, identity_id)
)`+options+`;
INSERT INTO memberships_new (group_id, identity_id) SELECT group_id, identity_id FROM memberships ORDER BY group_id, identity_id;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
CREATE INDEX memberships_identity ON memberships (identity_id, group_id);`)
		return err
	}
}
