package sqlstore

import (
	"context"
	"slices"
	"sync"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
)

// maxGroup bounds the items stored together (a few rows each, some ten
// parameters a row; both engines take thousands).
const maxGroup = 200

// groupCommit is a group commit of items that concurrent requests store:
// the requests that arrive while a batch is being stored wait for it, then
// the first of them stores all of theirs at once. Under load an item costs
// a fraction of a transaction; alone it costs what it did.
type groupCommit[T any] struct {
	mu    sync.Mutex
	queue []queued[T]
	saver sync.Mutex // held by the request that stores a batch
}

type queued[T any] struct {
	item T
	done chan error
}

// saveFunc stores items together, all or nothing: err is the failure of
// the whole (nothing was stored), outcomes each item's own when it was.
type saveFunc[T any] func(ctx context.Context, items []T) (outcomes []error, err error)

// do stores item in the next batch and returns its outcome once the batch
// is committed. When a batch fails, each of its items is stored on its
// own, so that each gets its own error (a taken name, a deleted parent)
// and no other's.
func (g *groupCommit[T]) do(ctx context.Context, item T, save saveFunc[T]) error {
	done := make(chan error, 1)
	g.mu.Lock()
	g.queue = append(g.queue, queued[T]{item, done})
	leader := len(g.queue) == 1
	g.mu.Unlock()
	if leader {
		g.saver.Lock() // the batch grows while the previous one is stored
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		// The batch holds other requests' items: this one's cancellation
		// must not fail them.
		g.save(context.WithoutCancel(ctx), batch, save)
		g.saver.Unlock()
	}
	return <-done
}

func (g *groupCommit[T]) save(ctx context.Context, batch []queued[T], save saveFunc[T]) {
	for chunk := range slices.Chunk(batch, maxGroup) {
		items := make([]T, len(chunk))
		for i, q := range chunk {
			items[i] = q.item
		}
		outcomes, err := save(ctx, items)
		for i, q := range chunk {
			switch {
			case err != nil && len(chunk) > 1:
				alone, err := save(ctx, items[i:i+1])
				q.done <- first(alone, err)
			case err != nil:
				q.done <- err
			default:
				q.done <- outcomes[i]
			}
		}
	}
}

func first(outcomes []error, err error) error {
	if err != nil {
		return err
	}
	return outcomes[0]
}

// withEvent is an item to store with the event that goes with it, or nil.
type withEvent[T any] struct {
	item  T
	event *audit.Event
}

// saveTogether stores item and its event (or nil) in one transaction with
// the items that concurrent callers save through g (a group commit).
func saveTogether[T any](ctx context.Context, s *Store, g *groupCommit[withEvent[T]], prefix string, item T, e *audit.Event, row func(T) []any) error {
	return g.do(ctx, withEvent[T]{item, e}, func(ctx context.Context, items []withEvent[T]) (outcomes []error, err error) {
		err = s.update(ctx, func(t *tx) error {
			outcomes, err = insertWithEvents(ctx, t, prefix, items, row)
			return err
		})
		return outcomes, err
	})
}

// insertWithEvents inserts items, as row makes them, in one statement
// (prefix: INSERT INTO table (columns)) and their events in another.
func insertWithEvents[T any](ctx context.Context, t *tx, prefix string, items []withEvent[T], row func(T) []any) ([]error, error) {
	events, err := insertItems(ctx, t, prefix, items, row)
	if err != nil {
		return nil, err
	}
	return make([]error, len(items)), t.RecordEvents(ctx, events)
}

// insertItems is insertWithEvents without the events: it returns them.
func insertItems[T any](ctx context.Context, t *tx, prefix string, items []withEvent[T], row func(T) []any) ([]audit.Event, error) {
	rows := make([][]any, len(items))
	var events []audit.Event
	for i, it := range items {
		rows[i] = row(it.item)
		if it.event != nil {
			events = append(events, *it.event)
		}
	}
	return events, t.insert(ctx, latchkey.ErrNoParent, prefix, rows, "")
}
