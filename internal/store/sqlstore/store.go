// Package sqlstore is the one implementation of Latchkey's storage, written
// once in the SQL that SQLite and PostgreSQL share. The engine packages
// (internal/store/sqlite, internal/store/postgres) open the connections and
// supply a Dialect for the little that differs. Migrations are embedded here.
//
// Migrations are expand-then-contract, so that nodes of two releases share
// one database during a rolling upgrade: a migration adds (tables, nullable
// or defaulted columns, indexes) and the release that adds it still writes
// what the previous release reads; dropping or renaming what a released
// binary reads waits for a later release, in a contract migration, which
// carries the line "-- +latchkey contract" and inserts its own version into
// schema_contracts. A node whose binary predates the newest contract
// refuses to start, and `latchkey migrate --check` names the running nodes
// that a pending contract would break.
//
// It imports domain packages for their types and Tx interfaces only, never
// their services. It must not import HTTP packages.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"slices"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/provisioning"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/upstream"
	"github.com/latchkey/latchkey/internal/webhook"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is what differs between the engines.
type Dialect struct {
	Name  string // "sqlite" or "postgres"
	Goose goose.Dialect
	// Classify maps an engine error to errDuplicate or errForeignKey, or
	// returns it unchanged.
	Classify func(error) error
	// Contains, StartsWith and EndsWith return a case-sensitive SQL test of
	// column against the placeholder param.
	Contains, StartsWith, EndsWith func(column, param string) string
	// JSONText returns the text at key of the JSON object in column (NULL
	// when absent). key comes from an allowlist, never from a request.
	JSONText func(column, key string) string
	// PrefixRange returns the test that column starts with param as a range
	// of byte order, which an index on a bytewise-collated column answers.
	PrefixRange func(column, param string) string
	// Migrations are the engine's own, in Go, numbered apart from the
	// shared SQL files.
	Migrations []*goose.Migration
	// CacheStatements runs each distinct query as a prepared statement
	// kept for reuse, for a driver that does not do so itself.
	CacheStatements bool
	// Maintain, when set, runs for as long as the store is open, on the
	// reading connections, and returns when ctx ends (SQLite's checkpoints).
	Maintain func(ctx context.Context, db *sql.DB)
	// Pipeline, when set, sends statements on a driver connection of the
	// writer in one round trip. They run in order, as if sent one by one;
	// the first that fails stops the rest. It returns each statement's
	// count of affected (or returned) rows up to the one that failed, and
	// that one's error. Without it, a pipelined transaction runs each
	// statement as it comes (SQLite: no round trips to save).
	Pipeline func(ctx context.Context, driverConn any, stmts []Statement) ([]int64, error)
}

// system is the engine's name as OpenTelemetry spells it.
func (d *Dialect) system() string {
	if d.Name == "postgres" {
		return "postgresql"
	}
	return d.Name
}

// Engine-independent classes of constraint errors, for Dialect.Classify.
var (
	ErrUnique     = errors.New("unique constraint violated")
	ErrForeignKey = errors.New("foreign key constraint violated")
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is Latchkey's storage on one database.
type Store struct {
	tx      // statements outside a transaction
	db      *sql.DB
	writer  *sql.DB
	dialect *Dialect
	// grants are the grants of token records alone (SaveGrant).
	grants  groupCommit[oauth.Grant]
	creates groupCommit[identityCreate]
	// signIns are the writes of sign-ins (saveSignIns).
	signIns groupCommit[signInWrite]
	// samlRequests are the SAML sign-ins' requests (SaveSAMLRequest).
	samlRequests groupCommit[withEvent[saml.Request]]
	// outcomes are the delivery attempts' (deliveryStore.FinishAttempt).
	outcomes groupCommit[attemptOutcome]
	// reads and writes are db's and writer's statement caches, nil unless
	// Dialect.CacheStatements (one when db is writer).
	reads, writes *stmtCache
	// Clock is the time of the changes the store dates itself (touch); the
	// services date the others.
	Clock latchkey.Clock
	// sessionsEnded is OnSessionsEnded's function, or nil.
	sessionsEnded store.SessionsEnded
	// stopMaintaining ends Dialect.Maintain and waits for it.
	stopMaintaining func()
}

// OnSessionsEnded makes every ending of sessions (Tx.EndSessions, whoever
// calls it) call fn in its transaction with the sessions it ended. Set it
// before the store is used.
func (s *Store) OnSessionsEnded(fn store.SessionsEnded) { s.sessionsEnded = fn }

// New returns a Store. Reads use db; writes and transactions use writer,
// which may be db itself. SQLite passes a one-connection writer so that
// writers queue in Go instead of spinning on a locked database.
func New(db, writer *sql.DB, d Dialect) *Store {
	s := &Store{db: db, writer: writer, dialect: &d}
	s.tx = tx{r: db, w: writer, d: s.dialect, clock: &s.Clock, sessionsEnded: &s.sessionsEnded}
	if d.CacheStatements {
		s.reads, s.writes = newStmtCache(db), newStmtCache(writer)
		if writer == db {
			s.writes = s.reads
		}
		s.tx.r, s.tx.w = s.reads, s.writes
	}
	s.tx.r, s.tx.w = s.traced(s.tx.r), s.traced(s.tx.w)
	s.stopMaintaining = func() {}
	if d.Maintain != nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.Maintain(ctx, db)
		}()
		s.stopMaintaining = func() { cancel(); <-done }
	}
	return s
}

// Dialect returns the engine's name, "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect.Name }

// Migrate applies the embedded migrations that have not run yet. On
// PostgreSQL a session lock keeps concurrent nodes from migrating twice.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.migrations()
	if err != nil {
		return err
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		slog.Info("migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// SchemaVersion returns the version of the database's schema (0 for an
// empty database) and the newest version this binary knows.
func (s *Store) SchemaVersion(ctx context.Context) (current, known int64, err error) {
	p, err := s.migrations()
	if err != nil {
		return 0, 0, err
	}
	return p.GetVersions(ctx)
}

// migrations returns the goose provider of the embedded migrations.
func (s *Store) migrations() (*goose.Provider, error) {
	var opts []goose.ProviderOption
	if s.dialect.Goose == goose.DialectPostgres {
		// Retry every second (goose's default is five) for up to five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	if len(s.dialect.Migrations) > 0 {
		opts = append(opts, goose.WithGoMigrations(s.dialect.Migrations...))
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(s.dialect.Goose, s.writer, fsys, opts...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the cached statements and the connections.
func (s *Store) Close() error {
	s.stopMaintaining()
	var err error
	if s.reads != nil {
		err = s.reads.Close()
		if s.writes != s.reads {
			err = errors.Join(err, s.writes.Close())
		}
	}
	err = errors.Join(err, s.db.Close())
	if s.writer != s.db {
		err = errors.Join(err, s.writer.Close())
	}
	return err
}

// update runs fn in a read-write transaction, committed when fn returns nil.
func (s *Store) update(ctx context.Context, fn func(*tx) error) error {
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	t := &tx{r: sqlTx, w: sqlTx, d: s.dialect, clock: &s.Clock, sessionsEnded: &s.sessionsEnded}
	if s.writes != nil {
		t.r = cachedTx{sqlTx, s.writes}
		t.w = t.r
	}
	t.r, t.w = s.traced(t.r), s.traced(t.w)
	if err = fn(t); err != nil {
		sqlTx.Rollback()
	} else {
		err = sqlTx.Commit()
	}
	if s.writes != nil {
		s.writes.prepareMissed(ctx)
	}
	return err
}

// updatePiped is update with the transaction's statements pipelined where
// the engine can (tx.later), BEGIN with the first of them: for the group
// commits, whose transactions are a series of writes that need few
// answers before the next.
func (s *Store) updatePiped(ctx context.Context, fn func(*tx) error) error {
	if s.dialect.Pipeline == nil {
		return s.update(ctx, fn)
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	t := &tx{r: s.traced(conn), d: s.dialect, clock: &s.Clock, sessionsEnded: &s.sessionsEnded}
	t.pipe = &pipeline{conn: conn, stmts: []piped{{Statement: Statement{Query: "BEGIN"}}}}
	t.r = flushing{t.r, t}
	t.w = t.r
	err = fn(t)
	if err == nil {
		err = t.flush(ctx) // what later still holds
	}
	// After a pipelined statement failed, the transaction's other
	// statements failed for it.
	end := "COMMIT"
	if err = cmp.Or(t.pipe.firstErr(), err); err != nil {
		end = "ROLLBACK"
	}
	if !t.pipe.sent {
		return err // nothing began
	}
	// Should COMMIT or ROLLBACK not be answered, pgx's database/sql driver
	// closes the connection rather than pool it in a transaction.
	_, endErr := conn.ExecContext(ctx, end)
	return cmp.Or(err, endErr)
}

// Update runs fn in one read-write transaction across all domains.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// CreateIdentities creates identities in a transaction of its own. It, like
// DeleteIdentities and the membership changes, takes more than one statement
// (batches of rows, the realm's identity count, the update time of the
// group); called on the Store rather than inside Update,
// each is all or nothing too.
func (s *Store) CreateIdentities(ctx context.Context, ids []directory.Identity) error {
	return s.update(ctx, func(t *tx) error { return t.CreateIdentities(ctx, ids) })
}

// identityCreate is an identity that a request creates, with its event.
type identityCreate struct {
	identity directory.Identity
	event    audit.Event
}

// CreateIdentity creates an identity with its audit event, in one
// transaction with those that concurrent requests create.
func (s *Store) CreateIdentity(ctx context.Context, i directory.Identity, e audit.Event) error {
	return s.creates.do(ctx, identityCreate{i, e}, s.createIdentities)
}

// createIdentities creates identities in one transaction: each realm is
// read once, to check it is its identities' tenant's (an identity whose
// realm is not has the outcome latchkey.ErrNotFound), then each realm's
// identities are inserted together, and the events in one statement.
func (s *Store) createIdentities(ctx context.Context, cs []identityCreate) (outcomes []error, err error) {
	outcomes = make([]error, len(cs))
	err = s.update(ctx, func(t *tx) error {
		realms := map[[2]string]error{} // tenant and realm: whether the realm is the tenant's
		byRealm := map[string][]directory.Identity{}
		var events []audit.Event
		for i, c := range cs {
			key := [2]string{c.identity.TenantID, c.identity.RealmID}
			found, read := realms[key]
			if !read {
				_, found = t.GetRealm(ctx, key[0], key[1])
				if found != nil && !errors.Is(found, latchkey.ErrNotFound) {
					return found
				}
				realms[key] = found
			}
			if outcomes[i] = found; found == nil {
				byRealm[key[1]] = append(byRealm[key[1]], c.identity)
				events = append(events, c.event)
			}
		}
		for _, realmID := range slices.Sorted(maps.Keys(byRealm)) {
			if err := t.CreateIdentities(ctx, byRealm[realmID]); err != nil {
				return err
			}
		}
		return t.RecordEvents(ctx, events)
	})
	return outcomes, err
}

// DeleteIdentities deletes identities in a transaction of its own.
func (s *Store) DeleteIdentities(ctx context.Context, realmID string, ids []string) (n int, err error) {
	err = s.update(ctx, func(t *tx) error {
		n, err = t.DeleteIdentities(ctx, realmID, ids)
		return err
	})
	return n, err
}

// AddMembers adds members in a transaction of its own.
func (s *Store) AddMembers(ctx context.Context, groupID string, identityIDs []string) error {
	return s.update(ctx, func(t *tx) error { return t.AddMembers(ctx, groupID, identityIDs) })
}

// AddMemberships adds memberships in a transaction of its own.
func (s *Store) AddMemberships(ctx context.Context, members map[string][]string) error {
	return s.update(ctx, func(t *tx) error { return t.AddMemberships(ctx, members) })
}

// RemoveMembers removes members in a transaction of its own.
func (s *Store) RemoveMembers(ctx context.Context, groupID string, identityIDs []string) error {
	return s.update(ctx, func(t *tx) error { return t.RemoveMembers(ctx, groupID, identityIDs) })
}

// RemoveAllMembers removes every member in a transaction of its own.
func (s *Store) RemoveAllMembers(ctx context.Context, groupID string) error {
	return s.update(ctx, func(t *tx) error { return t.RemoveAllMembers(ctx, groupID) })
}

// Directory returns the store as the directory sees it.
func (s *Store) Directory() directory.Store { return directoryStore{s} }

// OAuth returns the store as oauth sees it.
func (s *Store) OAuth() oauth.Store { return oauthStore{s} }

// Policy returns the store as policy sees it.
func (s *Store) Policy() policy.Store { return policyStore{s} }

// Passkey returns the store as passkey sees it.
func (s *Store) Passkey() passkey.Store { return passkeyStore{s} }

// OTP returns the store as otp sees it.
func (s *Store) OTP() otp.Store { return otpStore{s} }

type otpStore struct{ *Store }

func (s otpStore) Update(ctx context.Context, fn func(otp.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// Mail returns the store as mail sees it.
func (s *Store) Mail() mail.Store { return mailStore{s} }

// Delivery returns the store as delivery sees it.
func (s *Store) Delivery() delivery.Store { return deliveryStore{s} }

// Provisioning returns the store as provisioning sees it.
func (s *Store) Provisioning() provisioning.Store { return provisioningStore{s} }

// SAML returns the store as saml sees it.
func (s *Store) SAML() saml.Store { return samlStore{s} }

type samlStore struct{ *Store }

func (s samlStore) Update(ctx context.Context, fn func(saml.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// Session returns the store as session sees it.
func (s *Store) Session() session.Store { return sessionStore{s} }

// Webhook returns the store as webhook sees it.
func (s *Store) Webhook() webhook.Store { return webhookStore{s} }

type webhookStore struct{ *Store }

func (s webhookStore) Update(ctx context.Context, fn func(webhook.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// SSO returns the store as sso sees it.
func (s *Store) SSO() sso.Store { return ssoStore{s} }

type ssoStore struct{ *Store }

func (s ssoStore) Update(ctx context.Context, fn func(sso.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// Audit returns the store as audit sees it.
func (s *Store) Audit() audit.Store { return &s.tx }

// Upstream returns the store as upstream sees it.
func (s *Store) Upstream() upstream.Store { return &s.tx }

var _ store.Store = (*Store)(nil)

type directoryStore struct{ *Store }

func (s directoryStore) Update(ctx context.Context, fn func(directory.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

type oauthStore struct{ *Store }

type mailStore struct{ *Store }

func (s mailStore) Update(ctx context.Context, fn func(mail.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

type deliveryStore struct{ *Store }

func (s deliveryStore) Update(ctx context.Context, fn func(delivery.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

type provisioningStore struct{ *Store }

// Settle analyses the tables an import fills, on PostgreSQL; SQLite plans
// these queries by their indexes and has nothing to settle.
func (s provisioningStore) Settle(ctx context.Context) error {
	if s.dialect.Name != "postgres" {
		return nil
	}
	_, err := s.writer.ExecContext(ctx, `ANALYZE identities, identity_buckets, user_groups, memberships`)
	return err
}

func (s provisioningStore) Update(ctx context.Context, fn func(provisioning.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

type policyStore struct{ *Store }

func (s policyStore) Update(ctx context.Context, fn func(policy.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

type sessionStore struct{ *Store }

func (s sessionStore) Update(ctx context.Context, fn func(session.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

type passkeyStore struct{ *Store }

func (s passkeyStore) Update(ctx context.Context, fn func(passkey.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

func (s oauthStore) Update(ctx context.Context, fn func(oauth.Tx) error) error {
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// tx runs statements: reads on r, writes on w. Inside a transaction both
// are the transaction.
type tx struct {
	r, w  querier
	d     *Dialect
	clock *latchkey.Clock // the Store's
	// sessionsEnded is the Store's OnSessionsEnded function.
	sessionsEnded *store.SessionsEnded
	// pipe holds the statements of a pipelined transaction (later), or is nil.
	pipe *pipeline
}
