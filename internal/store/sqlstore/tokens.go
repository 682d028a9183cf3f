package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
)

// SaveGrant stores a grant, in one transaction with those that concurrent
// requests save; it returns once the grant is committed. A grant of a
// sign-in (it spends a code, or continues a family) shares its transaction
// with the other writes of sign-ins (saveSignIns); those of token records
// alone (client credentials) share one of their own, their records one
// statement and their events another: one commit, and never records
// without their events. (Inside Update the transaction's own SaveGrant is
// used.)
func (s *Store) SaveGrant(ctx context.Context, g oauth.Grant) error {
	if g.Redeems != "" || g.Family != nil || g.Refresh != nil {
		return s.signIns.do(ctx, signInWrite{grant: &g}, s.saveSignIns)
	}
	return s.grants.do(ctx, g, func(ctx context.Context, gs []oauth.Grant) (outcomes []error, err error) {
		err = s.updatePiped(ctx, func(t *tx) error {
			outcomes, err = t.saveGrants(ctx, gs)
			return err
		})
		return outcomes, err
	})
}

func (t *tx) SaveGrant(ctx context.Context, g oauth.Grant) error {
	return first(t.saveGrants(ctx, []oauth.Grant{g}))
}

// saveGrants is saveGrantRows with the grants' events recorded.
func (t *tx) saveGrants(ctx context.Context, gs []oauth.Grant) ([]error, error) {
	outcomes, events, settle, err := t.saveGrantRows(ctx, gs, false)
	if err == nil {
		err = t.RecordEvents(ctx, events)
	}
	if err == nil {
		err = settle()
	}
	return outcomes, err
}

// saveGrantRows spends the codes the grants redeem, each once, checks that
// their passkeys and identities may still sign in, continues the families
// that refreshes continue, and inserts the families, token records and
// refresh tokens of those that could, in at most six statements, and
// returns their events. A grant whose code had been spent before (or by an
// earlier grant of gs), whose passkey or identity was revoked or suspended
// since the code was read, or whose family was revoked, has the outcome
// latchkey.ErrNotFound and stores nothing. In a pipelined transaction the
// checks are one round trip and the inserts go with what follows them.
//
// Hopeful, in a pipelined transaction, it sends the inserts with the
// checks, as if none refused; settle, called once the transaction's last
// write is queued, then fails the transaction with errRefused if one did
// (a refused grant's insert may fail first), and the caller stores the
// grants again, not hopeful. Else settle does nothing.
func (t *tx) saveGrantRows(ctx context.Context, gs []oauth.Grant, hopeful bool) (outcomes []error, events []audit.Event, settle func() error, err error) {
	refused := make([]bool, len(gs))
	if err := t.redeemCodes(ctx, gs, refused); err != nil {
		return nil, nil, nil, err
	}
	if err := t.signersActive(ctx, gs, refused); err != nil {
		return nil, nil, nil, err
	}
	if err := t.continueFamilies(ctx, gs, refused); err != nil {
		return nil, nil, nil, err
	}
	settle = func() error { return nil }
	if hopeful && t.pipe != nil {
		sent := slices.Clone(refused) // a code spent twice in gs is refused already
		settle = func() error {
			if err := t.flush(ctx); err != nil {
				return err
			}
			if !slices.Equal(refused, sent) {
				return errRefused
			}
			return nil
		}
	} else if slices.ContainsFunc(gs, checked) {
		if err := t.flush(ctx); err != nil { // refused is known
			return nil, nil, nil, err
		}
	}
	outcomes = make([]error, len(gs))
	var tokens []oauth.Token
	var families, refresh [][]any
	for i, g := range gs {
		if refused[i] {
			outcomes[i] = latchkey.ErrNotFound
			continue
		}
		tokens = append(tokens, g.Tokens...)
		events = append(events, g.Events...)
		if f := g.Family; f != nil && g.Redeems != "" {
			families = append(families, []any{f.ID, f.TenantID, f.RealmID, f.ApplicationID, f.IdentityID, f.CredentialID,
				micros(f.CreateTime), micros(f.ExpireTime)})
		}
		if r := g.Refresh; r != nil {
			refresh = append(refresh, []any{r.Hash, r.FamilyID, r.TenantID, r.RealmID, r.ApplicationID, r.IdentityID,
				r.Scope, micros(r.AuthTime), r.Used, micros(r.CreateTime), micros(r.ExpireTime), deadlineMicros(r.Deadline),
				r.SessionID, amrJSON(r.AMR), r.ACR})
		}
	}
	if err := t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO grant_families (`+familyColumns+`)`, families, ""); err != nil {
		return nil, nil, nil, err
	}
	if err := t.createTokens(ctx, tokens); err != nil {
		return nil, nil, nil, err
	}
	return outcomes, events, settle, t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO refresh_tokens (`+refreshColumns+`)`, refresh, "")
}

// errRefused fails a hopeful transaction that stored a grant a check
// refused (saveGrantRows).
var errRefused = errors.New("a grant was refused")

// checked reports whether a grant's code or family is checked before it
// is stored (a grant of token records alone is not).
func checked(g oauth.Grant) bool { return g.Redeems != "" || g.Family != nil }

const familyColumns = `id, tenant_id, realm_id, application_id, identity_id, credential_id, create_time, expire_time`

// redeemCodes marks the codes of gs redeemed, in one statement (later),
// and sets refused for the grants whose code was not theirs to spend.
func (t *tx) redeemCodes(ctx context.Context, gs []oauth.Grant, refused []bool) error {
	var ids []string
	first := map[string]int{} // the grant that may spend each code
	for i, g := range gs {
		if g.Redeems == "" {
			continue
		}
		if _, taken := first[g.Redeems]; taken {
			refused[i] = true
			continue
		}
		first[g.Redeems] = i
		ids = append(ids, g.Redeems)
	}
	if len(ids) == 0 {
		return nil
	}
	var a args
	return t.laterIDs(ctx, `UPDATE auth_requests SET code_used = TRUE WHERE id IN `+t.in(&a, ids)+
		` AND NOT code_used RETURNING id`, a, func(spent map[string]bool) {
		for id, i := range first {
			refused[i] = !spent[id]
		}
	})
}

// signersActive sets refused for the redemptions whose passkey is no
// longer active, or whose identity no longer is (a sign-in by e-mail code
// has no passkey: its identity alone), in a statement or two (later): the
// code was read before this transaction. (Run later, it may check the
// signers of codes that redeemCodes refuses: they stay refused.) On
// PostgreSQL it holds the rows it read (FOR SHARE) until the grant is
// stored, so that a revocation or suspension running at the same time
// waits for it and then revokes the new family too; SQLite's one
// writer already orders the two.
func (t *tx) signersActive(ctx context.Context, gs []oauth.Grant, refused []bool) error {
	var credentials, identities []string
	for i, g := range gs {
		switch {
		case refused[i] || g.Redeems == "" || g.Family == nil:
		case g.Family.CredentialID != "":
			credentials = append(credentials, g.Family.CredentialID)
		default:
			identities = append(identities, g.Family.IdentityID)
		}
	}
	lock := ""
	if t.d.Name == "postgres" {
		lock = " FOR SHARE"
	}
	var queries []string
	var queryArgs []args
	if len(credentials) > 0 {
		var a args
		queries = append(queries, `SELECT c.id FROM credentials c JOIN identities i ON i.id = c.identity_id
		WHERE c.id IN `+t.in(&a, credentials)+` AND c.state = '`+passkey.Active+`' AND i.status = '`+directory.StatusActive+`'`+lock)
		queryArgs = append(queryArgs, a)
	}
	if len(identities) > 0 {
		var a args
		queries = append(queries, `SELECT id FROM identities WHERE id IN `+t.in(&a, identities)+
			` AND status = '`+directory.StatusActive+`'`+lock)
		queryArgs = append(queryArgs, a)
	}
	active := map[string]bool{}
	for q, query := range queries {
		last := q == len(queries)-1 // with its answer, all are in
		if err := t.laterIDs(ctx, query, queryArgs[q], func(ids map[string]bool) {
			maps.Copy(active, ids)
			if !last {
				return
			}
			for i, g := range gs {
				if !refused[i] && g.Redeems != "" && g.Family != nil {
					refused[i] = !active[cmp.Or(g.Family.CredentialID, g.Family.IdentityID)]
				}
			}
		}); err != nil {
			return err
		}
	}
	return nil
}

// continueFamilies extends the families that the refreshes of gs continue
// to their new expiry, in one statement (later), and sets refused for the
// grants whose family is gone: revoked. The row it updates stays locked
// until the grant is stored, so a revocation of the family waits for it
// and then deletes its tokens too (see revokeFamilies).
func (t *tx) continueFamilies(ctx context.Context, gs []oauth.Grant, refused []bool) error {
	var a args
	var cases strings.Builder
	var ids []string
	for i, g := range gs {
		if refused[i] || g.Family == nil || g.Redeems != "" {
			continue
		}
		cases.WriteString(" WHEN " + t.add(&a, g.Family.ID) + " THEN CAST(" + t.add(&a, micros(g.Family.ExpireTime)) + " AS BIGINT)")
		ids = append(ids, g.Family.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	return t.laterIDs(ctx, `UPDATE grant_families SET expire_time = CASE id`+cases.String()+` END WHERE id IN `+
		t.in(&a, ids)+` RETURNING id`, a, func(live map[string]bool) {
		for i, g := range gs {
			if !refused[i] && g.Family != nil && g.Redeems == "" {
				refused[i] = !live[g.Family.ID]
			}
		}
	})
}

// laterIDs runs a statement that returns ids later (tx.later), and then
// settle with them as a set.
func (t *tx) laterIDs(ctx context.Context, query string, a args, settle func(map[string]bool)) error {
	ids := map[string]bool{}
	return t.later(ctx, piped{Statement: Statement{Query: query, Args: a, Row: func(row interface{ Scan(...any) error }) error {
		var id string
		err := row.Scan(&id)
		ids[id] = true
		return err
	}}, done: func(_ int64, err error) error {
		if err == nil {
			settle(ids)
		}
		return err
	}})
}

// queryIDs runs a statement that returns ids now, and returns them as a set.
func (t *tx) queryIDs(ctx context.Context, query string, a ...any) (ids map[string]bool, err error) {
	if err := t.laterIDs(ctx, query, a, func(got map[string]bool) { ids = got }); err != nil {
		return nil, err
	}
	return ids, t.flush(ctx)
}

// RevokeFamily revokes a grant family in a transaction of its own.
func (s *Store) RevokeFamily(ctx context.Context, id string) error {
	return s.update(ctx, func(t *tx) error { return t.RevokeFamily(ctx, id) })
}

func (t *tx) RevokeFamily(ctx context.Context, id string) error {
	return t.revokeFamilies(ctx, "id", id)
}

func (t *tx) RevokeFamiliesOfCredential(ctx context.Context, credentialID string) error {
	return t.revokeFamilies(ctx, "credential_id", credentialID)
}

// RevokeTokensOfIdentities revokes the identities' families. (Access
// tokens issued before families existed are not found: they expire.)
func (t *tx) RevokeTokensOfIdentities(ctx context.Context, identityIDs []string) error {
	for chunk := range slices.Chunk(identityIDs, insertBatch) {
		if err := t.revokeFamilies(ctx, "identity_id", chunk...); err != nil {
			return err
		}
	}
	return nil
}

// revokeFamilies deletes the families whose column holds one of values,
// then the records of their tokens and their refresh tokens. The families
// go first: deleting a row waits for a refresh that continues it to
// commit, and the deletes after it (each statement sees what committed
// before it) find that refresh's tokens; a refresh after it finds no
// family and stores nothing (continueFamilies).
func (t *tx) revokeFamilies(ctx context.Context, column string, values ...string) error {
	var a args
	ids, err := t.queryIDs(ctx, `DELETE FROM grant_families WHERE `+column+` IN `+t.in(&a, values)+` RETURNING id`, a...)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(slices.Collect(maps.Keys(ids)), insertBatch) {
		var a args
		// family_id <> '' lets both engines use the partial index tokens_family.
		if _, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM tokens WHERE family_id <> '' AND family_id IN `+t.in(&a, chunk), a...); err != nil {
			return err
		}
		a = nil
		if _, err := t.exec(ctx, latchkey.ErrInUse, `DELETE FROM refresh_tokens WHERE family_id IN `+t.in(&a, chunk), a...); err != nil {
			return err
		}
	}
	return nil
}
