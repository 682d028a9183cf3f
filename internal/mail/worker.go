package mail

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/background"
)

// Worker delivers the outbox: it claims due messages, sends them, and marks
// each sent, due again later (with backoff), or failed after its last
// attempt. Workers on several nodes share one outbox; a message's lease
// keeps two of them from sending it at once.
type Worker struct {
	Store  Store
	Sender Sender
	Logger *slog.Logger
	// Owner names this worker in leases; it must differ between nodes.
	Owner string
	// MaxAttempts is how often a message is tried (default 8).
	MaxAttempts int
	// Backoff is the wait after a failed attempt, by attempt number from 1
	// (default 30 s, doubling, at most 1 h).
	Backoff func(attempt int) time.Duration
	// OnFailed, when set, is called once for a message that is given up on,
	// after it is marked failed.
	OnFailed func(ctx context.Context, m Message)
	// PollInterval is how often the outbox is checked without Wake (default 1 s).
	PollInterval time.Duration
	// Lease is how long a claimed message is reserved for this worker
	// (default 5 min); a send still running at nine tenths of it is
	// cancelled and the message tried again later.
	Lease time.Duration
	// Clock decides which messages are due and how long leases last.
	Clock latchkey.Clock

	loop background.Loop
}

// Wake makes Run check the outbox now, e.g. after a transaction that
// enqueued a message committed. It never blocks.
func (w *Worker) Wake() {
	w.loop.Wake()
}

// Run delivers until ctx is done.
func (w *Worker) Run(ctx context.Context) {
	w.loop.Name = "mail"
	w.loop.Run(ctx, cmp.Or(w.PollInterval, time.Second), w.deliverDue)
}

// deliverDue claims one due message and delivers it; it reports whether
// it found one, so that there may be more. A message is sent only while its
// lease holds: once the lease runs out another worker may claim and send it
// too. So one claim takes one message (a batch would wait, leased, behind
// slow sends), and its send must end before the lease's last tenth, which
// is left for recording the outcome.
func (w *Worker) deliverDue(ctx context.Context) bool {
	lease := cmp.Or(w.Lease, 5*time.Minute)
	// Started before the claim, as the lease is: a real wait, not the clock's.
	sendCtx, cancel := context.WithTimeout(ctx, lease-lease/10)
	defer cancel()
	msgs, err := w.Store.ClaimMail(ctx, w.Owner, w.Clock.Now(), lease, 1)
	if err != nil {
		if ctx.Err() == nil {
			w.Logger.Warn("claim mail", "err", err)
		}
		return false
	}
	for _, m := range msgs {
		w.deliver(ctx, sendCtx, m)
	}
	return len(msgs) > 0
}

// deliver sends m with sendCtx and records the outcome with ctx.
func (w *Worker) deliver(ctx, sendCtx context.Context, m Message) {
	sendErr := w.Sender.Send(sendCtx, m)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the message is tried again
	}
	log := w.Logger.With("mail_id", m.ID, "ref", m.Ref, "attempt", m.Attempts)
	t := w.Clock.Now()
	var err error
	switch {
	case sendErr == nil:
		err = w.Store.MarkMailSent(ctx, m.ID, w.Owner, t)
		log.Info("mail sent")
	case IsPermanent(sendErr) || m.Attempts >= cmp.Or(w.MaxAttempts, 8):
		log.Error("mail failed for good", "err", sendErr)
		if err = w.Store.MarkMailFailed(ctx, m.ID, w.Owner, t, sendErr.Error()); err == nil && w.OnFailed != nil {
			m.State, m.LastError, m.UpdateTime = StateFailed, sendErr.Error(), t
			w.OnFailed(ctx, m)
		}
	default:
		backoff := w.Backoff
		if backoff == nil {
			backoff = background.Backoff
		}
		next := t.Add(backoff(m.Attempts))
		log.Warn("mail not sent; will retry", "err", sendErr, "next_attempt_time", next)
		err = w.Store.MarkMailRetry(ctx, m.ID, w.Owner, t, next, sendErr.Error())
	}
	if err != nil {
		log.Warn("record mail delivery", "err", err)
	}
}
