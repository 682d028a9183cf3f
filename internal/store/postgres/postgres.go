// Package postgres opens a PostgreSQL database through pgx as a
// sqlstore.Store. It is the only package that imports pgx. It must not
// import HTTP packages.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // and registers the "pgx" driver
	"github.com/pressly/goose/v3"

	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// Open connects to the database named by a postgres:// URL. The URL's
// pool_max_conns (pgxpool's name for it) caps the connections a node opens.
func Open(dsn string) (*sqlstore.Store, error) {
	dsn, conns, err := poolSize(dsn)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return sqlstore.New(db, db, dialect), nil
}

// poolSize takes pool_max_conns out of a postgres:// URL (the server would
// refuse it as an unknown setting) and returns the URL without it and the
// size. By default a node opens 4 connections per CPU, at least 8: more
// backends than that, busy on the same cores, spend them switching between
// each other (BENCHMARKS.md, passkey sign-in at a steady rate).
func poolSize(dsn string) (string, int, error) {
	conns := max(8, 4*runtime.GOMAXPROCS(0))
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return dsn, conns, nil // a key=value DSN: pgx parses it, with the default size
	}
	q := u.Query()
	if v := q.Get("pool_max_conns"); v != "" {
		if conns, err = strconv.Atoi(v); err != nil || conns < 1 {
			return "", 0, fmt.Errorf("postgres: pool_max_conns=%q is not a whole number of at least 1", v)
		}
	}
	if q.Has("pool_max_conns") {
		q.Del("pool_max_conns")
		u.RawQuery = q.Encode()
	}
	return u.String(), conns, nil
}

var dialect = sqlstore.Dialect{
	Name:  "postgres",
	Goose: goose.DialectPostgres,
	Classify: func(err error) error {
		var e *pgconn.PgError
		if !errors.As(err, &e) {
			return err
		}
		switch e.Code {
		case "23505":
			return sqlstore.ErrUnique
		case "23503":
			return sqlstore.ErrForeignKey
		}
		return err
	},
	Contains:   func(c, p string) string { return "strpos(" + c + ", " + p + ") > 0" },
	StartsWith: func(c, p string) string { return "starts_with(" + c + ", " + p + ")" },
	EndsWith:   func(c, p string) string { return "right(" + c + ", length(" + p + ")) = " + p },
	JSONText:   func(c, key string) string { return "(" + c + "::jsonb ->> '" + key + "')" },
	// U+10FFFF sorts after every character that may follow the prefix.
	PrefixRange: func(c, p string) string { return "(" + c + " >= " + p + " AND " + c + " < " + p + " || chr(1114111))" },
	Migrations:  []*goose.Migration{bytewiseKeys},
	Pipeline:    pipeline,
}

// pipeline sends stmts as one batch: one write, one Sync, the results read
// in order. (pgx prepares the statements it has not cached first, together.)
func pipeline(ctx context.Context, driverConn any, stmts []sqlstore.Statement) ([]int64, error) {
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(s.Query, s.Args...)
	}
	results := driverConn.(*stdlib.Conn).Conn().SendBatch(ctx, &b)
	counts := make([]int64, 0, len(stmts))
	for _, s := range stmts {
		n, err := result(results, s)
		if err != nil {
			results.Close()
			return counts, err
		}
		counts = append(counts, n)
	}
	return counts, results.Close()
}

// result reads the next statement's result of a batch: its count of
// affected rows, or the rows it returns, through s.Row.
func result(results pgx.BatchResults, s sqlstore.Statement) (int64, error) {
	if s.Row == nil {
		tag, err := results.Exec()
		return tag.RowsAffected(), err
	}
	rows, err := results.Query()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return s.ReadRows(rows)
}

// bytewiseKeys collates the folded name columns bytewise, whatever the
// database's locale, so that their indexes answer prefix ranges and order
// them as SQLite does. (A locale's order may put a string that starts with a
// prefix outside the prefix's range.) Version 16 is the engine's own: no
// shared SQL migration may take it.
var bytewiseKeys = goose.NewGoMigration(16, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
ALTER TABLE realms ALTER COLUMN display_name_key TYPE TEXT COLLATE "C";
ALTER TABLE user_groups ALTER COLUMN display_name_key TYPE TEXT COLLATE "C";
ALTER TABLE identities ALTER COLUMN display_name_key TYPE TEXT COLLATE "C",
  ALTER COLUMN username_key TYPE TEXT COLLATE "C", ALTER COLUMN email_key TYPE TEXT COLLATE "C";`)
	return err
}}, nil)

// CreateDatabase creates database name on the server of dsn, a copy of
// database template unless that is "", and returns a DSN for it. Tests and
// the load tool use it to run against a database of their own.
func CreateDatabase(dsn, name, template string) (string, error) {
	create := `CREATE DATABASE "` + name + `"`
	if template != "" {
		create += ` TEMPLATE "` + template + `"`
	}
	if err := admin(dsn, create); err != nil {
		return "", err
	}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return "", err
	}
	u := &url.URL{Scheme: "postgres", User: url.User(cfg.User), Host: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), Path: "/" + name}
	if cfg.Password != "" {
		u.User = url.UserPassword(cfg.User, cfg.Password)
	}
	u.RawQuery = "sslmode=disable"
	return u.String(), nil
}

// DropDatabase drops database name, disconnecting its sessions.
func DropDatabase(dsn, name string) error {
	return admin(dsn, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
}

func admin(dsn, statement string) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(statement)
	return err
}
