package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
)

const sessionColumns = `id, tenant_id, realm_id, identity_id, credential_id, auth_time, amr, acr, ip, user_agent,
	idle_timeout, create_time, last_seen_time, idle_expire_time, absolute_expire_time, end_time, end_reason`

func scanSession(s interface{ Scan(...any) error }, v *session.Session) error {
	return scanFields(s, sessionFields(v))
}

// sessionFields says where a row of sessionColumns goes in v.
func sessionFields(v *session.Session) fields {
	var amr string
	var at, idle, ct, lt, it, et, end int64
	return fields{
		dest: []any{&v.ID, &v.TenantID, &v.RealmID, &v.IdentityID, &v.CredentialID, &at, &amr, &v.ACR, &v.IP, &v.UserAgent,
			&idle, &ct, &lt, &it, &et, &end, &v.EndReason},
		decode: func() error {
			v.AuthTime, v.CreateTime, v.LastSeenTime = fromMicros(at), fromMicros(ct), fromMicros(lt)
			v.IdleExpireTime, v.AbsoluteExpireTime = fromMicros(it), fromMicros(et)
			v.IdleTimeout = time.Duration(idle) * time.Microsecond
			v.EndTime = time.Time{}
			if end != 0 {
				v.EndTime = fromMicros(end)
			}
			return json.Unmarshal([]byte(amr), &v.AMR)
		},
	}
}

func amrJSON(amr []string) string {
	if amr == nil {
		amr = []string{}
	}
	b, _ := json.Marshal(amr)
	return string(b)
}

// CreateSession stores a session in one transaction with the writes of
// concurrent sign-ins (saveSignIns). (Inside Update the transaction's own
// CreateSession is used.)
func (s *Store) CreateSession(ctx context.Context, v session.Session) error {
	return s.signIns.do(ctx, signInWrite{session: &v}, s.saveSignIns)
}

func (t *tx) CreateSession(ctx context.Context, s session.Session) error {
	return t.createSessions(ctx, []session.Session{s})
}

// createSessions inserts sessions, live, in one statement.
func (t *tx) createSessions(ctx context.Context, ss []session.Session) error {
	rows := make([][]any, len(ss))
	for i, s := range ss {
		rows[i] = []any{s.ID, s.TenantID, s.RealmID, s.IdentityID, s.CredentialID, micros(s.AuthTime), amrJSON(s.AMR), s.ACR, s.IP,
			s.UserAgent, s.IdleTimeout.Microseconds(), micros(s.CreateTime), micros(s.LastSeenTime), micros(s.IdleExpireTime),
			micros(s.AbsoluteExpireTime), int64(0), ""}
	}
	return t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO sessions (`+sessionColumns+`)`, rows, "")
}

// GetSession reads a session and its applications in one statement (every
// sign-in with a session reads it): a row for each application, or one
// with NULL, the application first.
func (t *tx) GetSession(ctx context.Context, id string) (session.Session, error) {
	var v session.Session
	return v, t.readSession(ctx, getSession, id, &v)
}

// GetSessionWithIdentity is GetSession with the session's identity, in
// the same statement (single sign-on needs both): latchkey.ErrNotFound
// when either is gone.
func (t *tx) GetSessionWithIdentity(ctx context.Context, id string) (session.Session, directory.Identity, error) {
	var v session.Session
	var i directory.Identity
	err := t.readSession(ctx, getSessionWithIdentity, id, &v, identityFields(&i))
	return v, i, err
}

// readSession reads session id into v with query, whose rows are an
// application (or NULL) and the session's columns, then those of more.
func (t *tx) readSession(ctx context.Context, query, id string, v *session.Session, more ...fields) error {
	rows, err := t.r.QueryContext(ctx, query, id)
	if err != nil {
		return err
	}
	defer rows.Close()
	v.Applications = []string{}
	found := false
	for rows.Next() {
		var app sql.NullString
		if err := scanFields(rows, append([]fields{{dest: []any{&app}}, sessionFields(v)}, more...)...); err != nil {
			return err
		}
		found = true
		if app.Valid {
			v.Applications = append(v.Applications, app.String)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if !found {
		return latchkey.ErrNotFound
	}
	return nil
}

func (t *tx) ListSessions(ctx context.Context, realmID, identityID string, at time.Time) ([]session.Session, error) {
	return t.sessions(ctx, t.r, `SELECT `+sessionColumns+` FROM sessions WHERE realm_id = $1 AND identity_id = $2
		AND end_time = 0 AND idle_expire_time >= $3 AND absolute_expire_time >= $3 ORDER BY create_time DESC, id`,
		realmID, identityID, micros(at))
}

// sessions runs a query of sessionColumns on q (a read, or a write that
// returns them) and adds each session's applications.
func (t *tx) sessions(ctx context.Context, q querier, query string, a ...any) ([]session.Session, error) {
	rows, err := q.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	var out []session.Session
	for rows.Next() {
		var s session.Session
		if err := scanSession(rows, &s); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	return out, t.sessionApplications(ctx, q, out)
}

// sessionApplications fills the applications of ss, in one query per
// insertBatch sessions.
func (t *tx) sessionApplications(ctx context.Context, q querier, ss []session.Session) error {
	index := make(map[string]int, len(ss))
	ids := make([]string, len(ss))
	for i, s := range ss {
		index[s.ID], ids[i] = i, s.ID
		ss[i].Applications = []string{}
	}
	for chunk := range slices.Chunk(ids, insertBatch) {
		var a args
		rows, err := q.QueryContext(ctx, `SELECT session_id, application_id FROM session_applications
			WHERE session_id IN `+t.in(&a, chunk)+` ORDER BY application_id`, a...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var sid, app string
			if err := rows.Scan(&sid, &app); err != nil {
				rows.Close()
				return err
			}
			ss[index[sid]].Applications = append(ss[index[sid]].Applications, app)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// live is the condition that a session, named by its id, has not ended and
// has not expired at the time in placeholder p. It is one expression (IS
// TRUE) that no index of the expiry times can serve: PostgreSQL's generic
// plan, made while the table was small, took sessions_absolute_expiry for
// it and scanned every live session to find one (5.7 ms, not 0.1).
func live(p string) string {
	return `(end_time = 0 AND idle_expire_time >= ` + p + ` AND absolute_expire_time >= ` + p + `) IS TRUE`
}

// The statements that read a session by its id, and that use it and renew
// it while it is live (id, then the time in $2 and $8).
var (
	getSession = `SELECT a.application_id, ` + sessionColumns + ` FROM sessions
		LEFT JOIN session_applications a ON a.session_id = sessions.id WHERE sessions.id = $1 ORDER BY a.application_id`
	getSessionWithIdentity = `SELECT a.application_id, ` + qualified("s", sessionColumns) + `, ` + qualified("i", identityColumns) + `
		FROM sessions s JOIN identities i ON i.id = s.identity_id
		LEFT JOIN session_applications a ON a.session_id = s.id WHERE s.id = $1 ORDER BY a.application_id`
	useSession = `UPDATE sessions SET last_seen_time = $2,
		idle_expire_time = CASE WHEN CAST($2 AS BIGINT) + idle_timeout < absolute_expire_time
			THEN CAST($2 AS BIGINT) + idle_timeout ELSE absolute_expire_time END
		WHERE id = $1 AND ` + live("$2")
	renewSession = `UPDATE sessions SET credential_id = $2, auth_time = $3, amr = $4,
		acr = $5, ip = $6, user_agent = $7, last_seen_time = $8, idle_expire_time = $9, absolute_expire_time = $10
		WHERE id = $1 AND ` + live("$8")
)

// UseSession uses a session in a transaction of its own.
func (s *Store) UseSession(ctx context.Context, id, applicationID string, at time.Time, touch bool) error {
	return s.update(ctx, func(t *tx) error { return t.UseSession(ctx, id, applicationID, at, touch) })
}

func (t *tx) UseSession(ctx context.Context, id, applicationID string, at time.Time, touch bool) error {
	if touch {
		if err := affected(t.exec(ctx, latchkey.ErrNoParent, useSession, id, micros(at))); err != nil {
			return err
		}
	}
	switch {
	case applicationID != "":
		// Only a live session records the application: without a touch,
		// this is the one statement that also finds it ended.
		return t.recordSessionApplications(ctx, []sessionUse{{id, applicationID, at}}, latchkey.ErrNotFound)
	case !touch:
		var one int
		return notFoundIfNoRows(t.r.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = $1 AND `+live("$2"), id, micros(at)).Scan(&one))
	}
	return nil
}

// recordApplications is the statement that records sessions' applications
// from values, rows of (session id, application id, time).
func recordApplications(values string) string {
	// A VALUES list's columns are column1, column2… on both engines.
	return `INSERT INTO session_applications (session_id, application_id, first_time, last_time)
		SELECT s.id, v.column2, v.column3, v.column3 FROM sessions s JOIN (VALUES ` + values + `) v ON s.id = v.column1
		WHERE ` + live("v.column3") + `
		ON CONFLICT (session_id, application_id) DO UPDATE SET last_time = excluded.last_time`
}

// sessionUse is a session's sign-in to an application at a time.
type sessionUse struct {
	sessionID, applicationID string
	at                       time.Time
}

// recordSessionApplications records, in one statement (run later in a
// pipelined transaction), each use's application with its session if the
// session is live at the use's time: ended when one was not (the others
// are recorded: the caller's transaction decides).
func (t *tx) recordSessionApplications(ctx context.Context, uses []sessionUse, ended error) error {
	if len(uses) == 0 {
		return nil
	}
	// One row each: an upsert may not change a row twice.
	latest := map[[2]string]time.Time{}
	for _, u := range uses {
		k := [2]string{u.sessionID, u.applicationID}
		if at, seen := latest[k]; !seen || u.at.After(at) {
			latest[k] = u.at
		}
	}
	// In key order: concurrent writers take the rows' locks in one order.
	var a args
	rows := make([]string, 0, len(latest))
	for _, k := range slices.SortedFunc(maps.Keys(latest), func(x, y [2]string) int {
		return cmp.Or(strings.Compare(x[0], y[0]), strings.Compare(x[1], y[1]))
	}) {
		rows = append(rows, "("+t.add(&a, k[0])+", "+t.add(&a, k[1])+", "+bigint(t.add(&a, micros(latest[k])))+")")
	}
	all := allAffected(len(rows))
	return t.later(ctx, piped{Statement: Statement{Query: recordApplications(strings.Join(rows, ", ")), Args: a},
		onForeignKey: latchkey.ErrNotFound, done: func(n int64, err error) error {
			if err = all(n, err); errors.Is(err, latchkey.ErrNotFound) {
				return ended
			}
			return err
		}})
}

func (t *tx) RenewSession(ctx context.Context, s session.Session) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, renewSession, s.ID, s.CredentialID, micros(s.AuthTime), amrJSON(s.AMR), s.ACR, s.IP, s.UserAgent, micros(s.LastSeenTime),
		micros(s.IdleExpireTime), micros(s.AbsoluteExpireTime)))
}

// EndSessions ends sessions in a transaction of its own.
func (s *Store) EndSessions(ctx context.Context, e session.End) (ended []session.Session, err error) {
	err = s.update(ctx, func(t *tx) error {
		ended, err = t.EndSessions(ctx, e)
		return err
	})
	return ended, err
}

// EndSessions ends what e selects in one statement per insertBatch ids;
// on PostgreSQL the UPDATE waits for a concurrent UseSession of the same
// row, so an application recorded before the end is returned with it.
func (t *tx) EndSessions(ctx context.Context, e session.End) ([]session.Session, error) {
	var selectors [][]string
	column := ""
	switch {
	case len(e.IDs) > 0:
		column, selectors = "id", slices.Collect(slices.Chunk(e.IDs, insertBatch))
	case len(e.IdentityIDs) > 0:
		column, selectors = "identity_id", slices.Collect(slices.Chunk(e.IdentityIDs, insertBatch))
	case e.CredentialID != "":
		column, selectors = "credential_id", [][]string{{e.CredentialID}}
	case e.Expired:
		selectors = [][]string{nil}
	default:
		return nil, errors.New("session.End selects no session")
	}
	var ended []session.Session
	for _, values := range selectors {
		var a args
		set := `UPDATE sessions SET end_time = ` + t.add(&a, micros(e.At)) + `, end_reason = ` + t.add(&a, e.Reason) + ` WHERE end_time = 0 AND `
		var cond string
		if column != "" {
			cond = column + ` IN ` + t.in(&a, values)
		} else {
			at := micros(e.At)
			cond = `(idle_expire_time < ` + t.add(&a, at) + ` OR absolute_expire_time < ` + t.add(&a, at) + `)`
		}
		ss, err := t.sessions(ctx, t.w, set+cond+` RETURNING `+sessionColumns, a...)
		if err != nil {
			return nil, err
		}
		ended = append(ended, ss...)
	}
	if f := *t.sessionsEnded; f != nil && len(ended) > 0 {
		if err := f(ctx, t, ended); err != nil {
			return nil, err
		}
	}
	return ended, nil
}

func (t *tx) DeleteEndedSessions(ctx context.Context, before time.Time) (int, error) {
	res, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM sessions WHERE end_time <> 0 AND end_time < $1`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func (t *tx) SessionSettings(ctx context.Context, tenantID, realmID string) (session.Settings, error) {
	var idle, lifetime int64
	err := t.r.QueryRowContext(ctx, `SELECT session_idle_timeout, session_lifetime FROM realms WHERE id = $1 AND tenant_id = $2`,
		realmID, tenantID).Scan(&idle, &lifetime)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Settings{}, latchkey.ErrNotFound
	}
	return session.Settings{IdleTimeout: time.Duration(idle) * time.Second, Lifetime: time.Duration(lifetime) * time.Second}, err
}
