package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/session"
)

const authRequestColumns = `id, tenant_id, realm_id, application_id, params, challenge, identity_id, credential_id,
	auth_time, code_hash, code_used, create_time, expire_time, session_id, amr, acr`

func scanAuthRequest(s interface{ Scan(...any) error }, r *oauth.AuthRequest) error {
	return scanFields(s, authRequestFields(r))
}

// authRequestFields says where a row of authRequestColumns goes in r.
func authRequestFields(r *oauth.AuthRequest) fields {
	var params, amr string
	var at, ct, et int64
	return fields{
		dest: []any{&r.ID, &r.TenantID, &r.RealmID, &r.ApplicationID, &params, &r.Challenge, &r.IdentityID,
			&r.CredentialID, &at, &r.CodeHash, &r.CodeUsed, &ct, &et, &r.SessionID, &amr, &r.ACR},
		decode: func() error {
			r.AuthTime, r.CreateTime, r.ExpireTime = fromMicros(at), fromMicros(ct), fromMicros(et)
			if err := json.Unmarshal([]byte(amr), &r.AMR); err != nil {
				return err
			}
			return json.Unmarshal([]byte(params), &r.Params)
		},
	}
}

// SaveAuthRequest stores a sign-in's request and its event in one
// transaction with the writes of concurrent sign-ins (saveSignIns): the
// requests in one statement. (Inside Update the transaction's own
// SaveAuthRequest is used.)
func (s *Store) SaveAuthRequest(ctx context.Context, r oauth.AuthRequest, e *audit.Event) error {
	return s.signIns.do(ctx, signInWrite{request: &withEvent[oauth.AuthRequest]{r, e}}, s.saveSignIns)
}

func (t *tx) SaveAuthRequest(ctx context.Context, r oauth.AuthRequest, e *audit.Event) error {
	return first(insertWithEvents(ctx, t, insertAuthRequests, []withEvent[oauth.AuthRequest]{{r, e}}, authRequestRow))
}

const insertAuthRequests = `INSERT INTO auth_requests (` + authRequestColumns + `)`

// authRequestRow is a sign-in's row of authRequestColumns: pending, or
// finished already (a sign-in in a session).
func authRequestRow(r oauth.AuthRequest) []any {
	params, _ := json.Marshal(r.Params)
	return []any{r.ID, r.TenantID, r.RealmID, r.ApplicationID, string(params), r.Challenge, r.IdentityID, r.CredentialID,
		microsOrZero(r.AuthTime), r.CodeHash, false, micros(r.CreateTime), micros(r.ExpireTime), r.SessionID, amrJSON(r.AMR), r.ACR}
}

func (t *tx) GetAuthRequest(ctx context.Context, id string) (oauth.AuthRequest, error) {
	var r oauth.AuthRequest
	err := scanAuthRequest(t.r.QueryRowContext(ctx, `SELECT `+authRequestColumns+` FROM auth_requests WHERE id = $1`, id), &r)
	return r, notFoundIfNoRows(err)
}

// signInByCodeQuery reads a finished sign-in by its code with the
// identity that signed in: one statement at the token endpoint.
var signInByCodeQuery = `SELECT ` + qualified("a", authRequestColumns) + `, ` + qualified("i", identityColumns) + `
	FROM auth_requests a JOIN identities i ON i.id = a.identity_id WHERE a.code_hash = $1 AND a.code_hash <> ''`

func (t *tx) GetSignInByCode(ctx context.Context, codeHash string) (r oauth.AuthRequest, i directory.Identity, err error) {
	err = scanFields(t.r.QueryRowContext(ctx, signInByCodeQuery, codeHash), authRequestFields(&r), identityFields(&i))
	return r, i, notFoundIfNoRows(err)
}

func (t *tx) FinishAuthRequest(ctx context.Context, r oauth.AuthRequest, at time.Time) error {
	return t.finishAuthRequests(ctx, []*oauth.Approval{{Request: r, At: at}})
}

// finishAuthRequests finishes the approvals' requests in one statement
// (run later in a pipelined transaction), as FinishAuthRequest each, and
// sets each approval's Request to its row as finished (its parameters
// too, which an approval need not carry); latchkey.ErrNotFound when one
// was not pending then (the others are finished: the caller's
// transaction decides).
func (t *tx) finishAuthRequests(ctx context.Context, as []*oauth.Approval) error {
	if len(as) == 0 {
		return nil
	}
	var a args
	rows, ids := make([]string, len(as)), make([]string, len(as))
	finished := map[string]oauth.AuthRequest{}
	for i, v := range as {
		r := v.Request
		rows[i] = "(" + strings.Join([]string{t.add(&a, r.ID), t.add(&a, r.TenantID), t.add(&a, r.RealmID), t.add(&a, r.ApplicationID),
			t.add(&a, r.Challenge), bigint(t.add(&a, micros(v.At))), t.add(&a, r.IdentityID), t.add(&a, r.CredentialID),
			bigint(t.add(&a, micros(r.AuthTime))), t.add(&a, r.CodeHash), bigint(t.add(&a, micros(r.ExpireTime))),
			t.add(&a, r.SessionID), t.add(&a, amrJSON(r.AMR)), t.add(&a, r.ACR)}, ", ") + ")"
		ids[i] = r.ID
	}
	read := func(row interface{ Scan(...any) error }) error {
		var r oauth.AuthRequest
		err := scanAuthRequest(row, &r)
		finished[r.ID] = r
		return err
	}
	all := allAffected(len(as))
	return t.later(ctx, piped{Statement: Statement{Query: finishAuthRequests(strings.Join(rows, ", "), t.in(&a, ids)), Args: a, Row: read},
		onForeignKey: latchkey.ErrNoParent, done: func(n int64, err error) error {
			if err = all(n, err); err == nil {
				for _, v := range as {
					v.Request = finished[v.Request.ID]
				}
			}
			return err
		}})
}

// finishAuthRequests is the statement that finishes sign-ins from values,
// rows of (id, tenant, realm, application, challenge, time; then identity,
// credential, auth time, code hash, expiry, session, amr, acr), and ids,
// their ids IN: with them PostgreSQL's generic plan finds the rows by
// primary key (a join with the VALUES alone scans a table it thought small
// when it planned).
func finishAuthRequests(values, ids string) string {
	// A VALUES list's columns are column1, column2… on both engines.
	return `UPDATE auth_requests SET identity_id = v.column7, credential_id = v.column8,
		auth_time = v.column9, code_hash = v.column10, expire_time = v.column11, session_id = v.column12, amr = v.column13,
		acr = v.column14 FROM (VALUES ` + values + `) v WHERE auth_requests.id IN ` + ids + ` AND auth_requests.id = v.column1
		AND auth_requests.identity_id = '' AND tenant_id = v.column2 AND realm_id = v.column3 AND application_id = v.column4
		AND challenge = v.column5 AND auth_requests.expire_time >= v.column6 RETURNING ` + qualified("auth_requests", authRequestColumns)
}

// Approve stores a sign-in's approval in one transaction with the writes
// of concurrent sign-ins (saveSignIns). (Inside Update the transaction's
// own Approve is used.)
func (s *Store) Approve(ctx context.Context, a oauth.Approval) (oauth.AuthRequest, error) {
	err := s.signIns.do(ctx, signInWrite{approval: &a}, s.saveSignIns)
	return a.Request, err
}

func (t *tx) Approve(ctx context.Context, a oauth.Approval) (oauth.AuthRequest, error) {
	events, err := t.approve(ctx, []*oauth.Approval{&a})
	if err != nil {
		return oauth.AuthRequest{}, err
	}
	return a.Request, t.RecordEvents(ctx, events)
}

// signInWrite is a write of a sign-in that concurrent sign-ins' writes
// share a transaction with: its request stored pending with its event, the
// session it starts, its approval, or the grant that spends its code or
// continues its family. One of the four is set. (An approval's Request
// becomes the request as stored: see approve.)
type signInWrite struct {
	request  *withEvent[oauth.AuthRequest]
	session  *session.Session
	approval *oauth.Approval
	grant    *oauth.Grant
}

// saveSignIns stores writes of sign-ins in one transaction: the requests
// in one statement, the sessions in one, the approvals and grants in a few
// each, and the events of all in one; on PostgreSQL in two round trips
// (BEGIN and every write; COMMIT), the grants' inserts sent before their
// checks answer (hopeful: see saveGrantRows). Under load a sign-in pays a
// share of one commit instead of three or four. A grant's outcome is its
// own (saveGrantRows); a refused approval fails all (approve), and the
// group commit then stores each write alone.
func (s *Store) saveSignIns(ctx context.Context, ws []signInWrite) (outcomes []error, err error) {
	var requests []withEvent[oauth.AuthRequest]
	var sessions []session.Session
	var approvals []*oauth.Approval
	var grants []oauth.Grant
	var grantAt []int // the index in ws of each of grants
	for i, w := range ws {
		switch {
		case w.request != nil:
			requests = append(requests, *w.request)
		case w.session != nil:
			sessions = append(sessions, *w.session)
		case w.approval != nil:
			approvals = append(approvals, w.approval)
		default:
			grants, grantAt = append(grants, *w.grant), append(grantAt, i)
		}
	}
	save := func(hopeful bool) error {
		outcomes = make([]error, len(ws))
		return s.updatePiped(ctx, func(t *tx) error {
			events, err := insertItems(ctx, t, insertAuthRequests, requests, authRequestRow)
			if err != nil {
				return err
			}
			if err := t.createSessions(ctx, sessions); err != nil {
				return err
			}
			approved, err := t.approve(ctx, approvals)
			if err != nil {
				return err
			}
			granted, issued, settle, err := t.saveGrantRows(ctx, grants, hopeful)
			if err != nil {
				return err
			}
			for j, i := range grantAt {
				outcomes[i] = granted[j]
			}
			if err := t.RecordEvents(ctx, slices.Concat(events, approved, issued)); err != nil {
				return err
			}
			return settle()
		})
	}
	// On PostgreSQL, hopeful first: a refused grant is rare. A refused
	// grant's inserts may fail before settle can tell (a spent code's
	// family is there already): whatever failed, the checked way tells.
	hopeful := s.dialect.Pipeline != nil
	if err = save(hopeful); err != nil && hopeful {
		err = save(false)
	}
	return outcomes, err
}

// approve stores approvals, all or nothing, and returns their events: it
// inserts the sessions they began (one statement), finishes the pending
// requests (one, which sets their Request to the row as finished) and
// inserts those stored finished (one), renews the sessions due a touch (a
// statement each, once a minute a session at most) and records the
// sessions' applications (one). A refusal fails them all.
func (t *tx) approve(ctx context.Context, as []*oauth.Approval) ([]audit.Event, error) {
	var begun []session.Session
	for _, a := range as {
		if a.Session != nil {
			begun = append(begun, *a.Session)
		}
	}
	if err := t.createSessions(ctx, begun); err != nil {
		return nil, err
	}
	var inserted [][]any
	var pending []*oauth.Approval
	var uses []sessionUse
	var events []audit.Event
	for _, a := range as {
		r := a.Request
		if a.New {
			inserted = append(inserted, authRequestRow(r))
		} else {
			pending = append(pending, a)
		}
		if r.SessionID != "" {
			if a.TouchSession {
				if err := t.UseSession(ctx, r.SessionID, "", a.At, true); err != nil {
					return nil, sessionEnded(err)
				}
			}
			uses = append(uses, sessionUse{r.SessionID, r.ApplicationID, a.At})
		}
		events = append(events, a.Events...)
	}
	if err := t.finishAuthRequests(ctx, pending); err != nil {
		return nil, err
	}
	if err := t.insert(ctx, latchkey.ErrNoParent, insertAuthRequests, inserted, ""); err != nil {
		return nil, err
	}
	return events, t.recordSessionApplications(ctx, uses, oauth.ErrSessionEnded)
}

// sessionEnded is the error of a session's use that found it not live.
func sessionEnded(err error) error {
	if errors.Is(err, latchkey.ErrNotFound) {
		return oauth.ErrSessionEnded
	}
	return err
}

const refreshColumns = `token_hash, family_id, tenant_id, realm_id, application_id, identity_id, scope, auth_time, used,
	create_time, expire_time, deadline, sid, amr, acr`

func (t *tx) GetRefreshToken(ctx context.Context, hash string) (oauth.RefreshToken, error) {
	var r oauth.RefreshToken
	var at, ct, et, dl int64
	var amr string
	err := one(t.r.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE token_hash = $1`, hash),
		&r.Hash, &r.FamilyID, &r.TenantID, &r.RealmID, &r.ApplicationID, &r.IdentityID, &r.Scope, &at, &r.Used, &ct, &et, &dl,
		&r.SessionID, &amr, &r.ACR)
	if err != nil {
		return r, err
	}
	r.AuthTime, r.CreateTime, r.ExpireTime = fromMicros(at), fromMicros(ct), fromMicros(et)
	if dl != 0 {
		r.Deadline = fromMicros(dl)
	}
	return r, json.Unmarshal([]byte(amr), &r.AMR)
}

// deadlineMicros stores a refresh token's deadline: 0 for none.
func deadlineMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func (t *tx) UseRefreshToken(ctx context.Context, hash string) error {
	return affected(t.exec(ctx, latchkey.ErrNoParent, `UPDATE refresh_tokens SET used = TRUE WHERE token_hash = $1 AND NOT used`, hash))
}
