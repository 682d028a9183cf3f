package audit

import (
	"context"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/background"
)

// DefaultRetention is how long events are kept unless --event-retention
// says otherwise: Beyond Identity keeps sign-in events 90 days.
const DefaultRetention = 90 * 24 * time.Hour

// pruneBatch is how many events one delete removes: small, so that a
// delete never holds the events table (or SQLite's single writer) long.
const pruneBatch = 1000

// Pruner deletes events older than Retention, in small batches.
type Pruner struct {
	Store     Store
	Clock     latchkey.Clock
	Retention time.Duration
	Logger    *slog.Logger
}

// Step deletes one batch of events older than Retention and says whether
// the batch was full (more may be left).
func (p *Pruner) Step(ctx context.Context) (more bool, err error) {
	n, err := p.Store.DeleteEventsBefore(ctx, p.Clock.Now().Add(-p.Retention), pruneBatch)
	return n == pruneBatch, err
}

// Run prunes every poll until ctx is done, batch after batch while
// batches come back full.
func (p *Pruner) Run(ctx context.Context, poll time.Duration) {
	loop := background.Loop{Name: "pruned audit events"}
	loop.Run(ctx, poll, func(ctx context.Context) bool {
		more, err := p.Step(ctx)
		if err != nil {
			p.Logger.Warn("prune events", "err", err)
		}
		return more
	})
}
