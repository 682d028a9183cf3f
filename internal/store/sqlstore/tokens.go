package sqlstore

import (
	"context"
	"slices"
	"sync"

	"github.com/latchkey/latchkey/internal/oauth"
)

// maxTokenBatch bounds the rows of one insert (13 parameters each; both
// engines take thousands).
const maxTokenBatch = 200

// tokenBatch is a group commit of token records: the requests that insert
// records while an insert is under way wait for it, then the first of them
// inserts all of theirs in one statement and one commit. Under load a
// record costs a fraction of a round trip and a commit; alone it costs
// what it did.
type tokenBatch struct {
	mu       sync.Mutex
	queue    []queuedToken
	inserter sync.Mutex // held by the request that inserts a batch
}

type queuedToken struct {
	token oauth.Token
	done  chan error
}

// CreateToken inserts a token record, in a batch with those that concurrent
// requests insert; it returns once the record is committed. (Inside Update
// the transaction's own CreateToken is used.)
func (s *Store) CreateToken(ctx context.Context, v oauth.Token) error {
	done := make(chan error, 1)
	b := &s.tokens
	b.mu.Lock()
	b.queue = append(b.queue, queuedToken{v, done})
	leader := len(b.queue) == 1
	b.mu.Unlock()
	if leader {
		b.inserter.Lock() // the batch grows while the previous one is inserted
		b.mu.Lock()
		batch := b.queue
		b.queue = nil
		b.mu.Unlock()
		// The batch holds other requests' records: this one's cancellation
		// must not fail them.
		s.insertTokens(context.WithoutCancel(ctx), batch)
		b.inserter.Unlock()
	}
	return <-done
}

// insertTokens inserts a batch and tells each request its outcome. When a
// statement fails, its records are inserted one by one, so that each gets
// its own error (a taken id, a deleted application) and no other's.
func (s *Store) insertTokens(ctx context.Context, batch []queuedToken) {
	for chunk := range slices.Chunk(batch, maxTokenBatch) {
		tokens := make([]oauth.Token, len(chunk))
		for i, q := range chunk {
			tokens[i] = q.token
		}
		err := s.tx.createTokens(ctx, tokens)
		for _, q := range chunk {
			if err != nil && len(chunk) > 1 {
				q.done <- s.tx.createTokens(ctx, []oauth.Token{q.token})
			} else {
				q.done <- err
			}
		}
	}
}
