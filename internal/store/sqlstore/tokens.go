package sqlstore

import (
	"context"
	"slices"
	"sync"

	"github.com/latchkey/latchkey/internal/oauth"
)

// maxTokenBatch bounds the requests of one insert (a record or two each, 14
// parameters a record; both engines take thousands).
const maxTokenBatch = 200

// tokenBatch is a group commit of token records: the requests that insert
// records while an insert is under way wait for it, then the first of them
// inserts all of theirs in one statement and one commit. Under load a
// record costs a fraction of a round trip and a commit; alone it costs
// what it did.
type tokenBatch struct {
	mu       sync.Mutex
	queue    []queuedTokens
	inserter sync.Mutex // held by the request that inserts a batch
}

type queuedTokens struct {
	tokens []oauth.Token
	done   chan error
}

// CreateTokens inserts token records, in a batch with those that concurrent
// requests insert; it returns once the records are committed. (Inside
// Update the transaction's own CreateTokens is used.)
func (s *Store) CreateTokens(ctx context.Context, vs ...oauth.Token) error {
	done := make(chan error, 1)
	b := &s.tokens
	b.mu.Lock()
	b.queue = append(b.queue, queuedTokens{vs, done})
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
// statement fails, each request's records are inserted on their own, so
// that each gets its own error (a taken id, a deleted application) and no
// other's.
func (s *Store) insertTokens(ctx context.Context, batch []queuedTokens) {
	for chunk := range slices.Chunk(batch, maxTokenBatch) {
		var tokens []oauth.Token
		for _, q := range chunk {
			tokens = append(tokens, q.tokens...)
		}
		err := s.tx.CreateTokens(ctx, tokens...)
		for _, q := range chunk {
			if err != nil && len(chunk) > 1 {
				q.done <- s.tx.CreateTokens(ctx, q.tokens...)
			} else {
				q.done <- err
			}
		}
	}
}
