package sqlstore

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/oauth"
)

// maxGrantBatch bounds the grants stored together (a few records each, 14
// parameters a record; both engines take thousands).
const maxGrantBatch = 200

// grantBatch is a group commit of grants: the requests that save grants
// while a batch is under way wait for it, then the first of them stores
// all of theirs in one transaction (one statement for records alone).
// Under load a grant costs a fraction of a transaction; alone it costs
// what it did.
type grantBatch struct {
	mu    sync.Mutex
	queue []queuedGrant
	saver sync.Mutex // held by the request that stores a batch
}

type queuedGrant struct {
	grant oauth.Grant
	done  chan error
}

// SaveGrant stores a grant, in a batch with those that concurrent requests
// save; it returns once the grant is committed. (Inside Update the
// transaction's own SaveGrant is used.)
func (s *Store) SaveGrant(ctx context.Context, g oauth.Grant) error {
	done := make(chan error, 1)
	b := &s.grants
	b.mu.Lock()
	b.queue = append(b.queue, queuedGrant{g, done})
	leader := len(b.queue) == 1
	b.mu.Unlock()
	if leader {
		b.saver.Lock() // the batch grows while the previous one is stored
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		b.mu.Unlock()
		// The batch holds other requests' grants: this one's cancellation
		// must not fail them.
		s.saveBatch(context.WithoutCancel(ctx), batch)
		b.saver.Unlock()
	}
	return <-done
}

// saveBatch stores a batch and tells each request its outcome. When the
// batch fails, each grant is stored on its own, so that each gets its own
// error (a taken id, a deleted application) and no other's.
func (s *Store) saveBatch(ctx context.Context, batch []queuedGrant) {
	for chunk := range slices.Chunk(batch, maxGrantBatch) {
		grants := make([]oauth.Grant, len(chunk))
		for i, q := range chunk {
			grants[i] = q.grant
		}
		replayed, err := s.saveTogether(ctx, grants)
		for i, q := range chunk {
			switch {
			case err != nil && len(chunk) > 1:
				r, err := s.saveTogether(ctx, grants[i:i+1])
				q.done <- outcome(r, 0, err)
			default:
				q.done <- outcome(replayed, i, err)
			}
		}
	}
}

func outcome(replayed []bool, i int, err error) error {
	if err == nil && replayed[i] {
		return latchkey.ErrNotFound
	}
	return err
}

// saveTogether stores grants in one transaction, or in one statement when
// they only insert token records.
func (s *Store) saveTogether(ctx context.Context, gs []oauth.Grant) (replayed []bool, err error) {
	if !slices.ContainsFunc(gs, func(g oauth.Grant) bool { return g.Redeems != "" || g.Refresh != nil }) {
		return s.tx.saveGrants(ctx, gs)
	}
	err = s.update(ctx, func(t *tx) error {
		replayed, err = t.saveGrants(ctx, gs)
		return err
	})
	return replayed, err
}

func (t *tx) SaveGrant(ctx context.Context, g oauth.Grant) error {
	replayed, err := t.saveGrants(ctx, []oauth.Grant{g})
	return outcome(replayed, 0, err)
}

// saveGrants spends the codes the grants redeem, each once (replayed says
// which had been spent before, or by an earlier grant of gs), and inserts
// the records of the others, in at most three statements.
func (t *tx) saveGrants(ctx context.Context, gs []oauth.Grant) (replayed []bool, err error) {
	replayed = make([]bool, len(gs))
	if err := t.redeemCodes(ctx, gs, replayed); err != nil {
		return nil, err
	}
	var tokens []oauth.Token
	var refresh [][]any
	for i, g := range gs {
		if replayed[i] {
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
	return replayed, t.insert(ctx, latchkey.ErrNoParent, `INSERT INTO refresh_tokens (`+refreshColumns+`)`, refresh, "")
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
