package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// SaveGrant stores a grant, in one transaction with those that concurrent
// requests save (one statement for records alone); it returns once the
// grant is committed. (Inside Update the transaction's own SaveGrant is
// used.)
func (s *Store) SaveGrant(ctx context.Context, g oauth.Grant) error {
	return s.grants.do(ctx, g, s.saveGrants)
}

// saveGrants stores grants together: in one statement when they only
// insert token records, else in one transaction.
func (s *Store) saveGrants(ctx context.Context, gs []oauth.Grant) (outcomes []error, err error) {
	if !slices.ContainsFunc(gs, func(g oauth.Grant) bool { return g.Redeems != "" || g.Refresh != nil }) {
		return s.tx.saveGrants(ctx, gs)
	}
	err = s.update(ctx, func(t *tx) error {
		outcomes, err = t.saveGrants(ctx, gs)
		return err
	})
	return outcomes, err
}

func (t *tx) SaveGrant(ctx context.Context, g oauth.Grant) error {
	return first(t.saveGrants(ctx, []oauth.Grant{g}))
}

// saveGrants spends the codes the grants redeem, each once, and inserts
// the records of those that could, in at most three statements. A grant
// whose code had been spent before (or by an earlier grant of gs) has the
// outcome latchkey.ErrNotFound and stores nothing.
func (t *tx) saveGrants(ctx context.Context, gs []oauth.Grant) (outcomes []error, err error) {
	replayed := make([]bool, len(gs))
	if err := t.redeemCodes(ctx, gs, replayed); err != nil {
		return nil, err
	}
	outcomes = make([]error, len(gs))
	var tokens []oauth.Token
	var refresh [][]any
	for i, g := range gs {
		if replayed[i] {
			outcomes[i] = latchkey.ErrNotFound
			continue
		}
		tokens = append(tokens, g.Tokens...)
		if r := g.Refresh; r != nil {
			refresh = append(refresh, []any{r.Hash, r.FamilyID, r.TenantID, r.RealmID, r.ApplicationID, r.IdentityID,
				r.Scope, micros(r.AuthTime), r.Used, micros(r.CreateTime), micros(r.ExpireTime)})
		}
	}
	if err := t.createTokens(ctx, tokens); err != nil {
		return nil, err
	}
	return outcomes, t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO refresh_tokens (`+refreshColumns+`)`, refresh, "")
}

// redeemCodes marks the codes of gs redeemed, in one statement, with the
// ids of the tokens each bought, and sets replayed for the grants whose
// code was not theirs to spend.
func (t *tx) redeemCodes(ctx context.Context, gs []oauth.Grant, replayed []bool) error {
	var a args
	var cases strings.Builder
	var ids []string
	first := map[string]int{} // the grant that may spend each code
	for i, g := range gs {
		if g.Redeems == "" {
			continue
		}
		if _, taken := first[g.Redeems]; taken {
			replayed[i] = true
			continue
		}
		first[g.Redeems] = i
		b, _ := json.Marshal(g.TokenIDs())
		cases.WriteString(" WHEN " + t.add(&a, g.Redeems) + " THEN " + t.add(&a, string(b)))
		ids = append(ids, g.Redeems)
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := t.w.QueryContext(ctx, `UPDATE auth_requests SET code_used = TRUE, token_ids = CASE id`+cases.String()+
		` END WHERE id IN `+t.in(&a, ids)+` AND NOT code_used RETURNING id`, a...)
	if err != nil {
		return err
	}
	defer rows.Close()
	spent := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		spent[id] = true
	}
	for id, i := range first {
		replayed[i] = !spent[id]
	}
	return rows.Err()
}
