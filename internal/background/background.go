// Package background runs the loops of Latchkey's workers (the mail
// outbox, import jobs): poll at an interval, or at once when woken, and
// repeat a step while it finds work; and the outboxes' backoff between
// attempts.
//
// It must not import other Latchkey packages but internal/tracing.
package background

import (
	"context"
	"sync"
	"time"

	"github.com/latchkey/latchkey/internal/tracing"
)

// Loop is a worker's loop. The zero value is ready; Wake may be called
// before or while Run runs.
type Loop struct {
	// Name names the worker's job in traces ("mail"); set it before Run.
	// A loop without one leaves tracing to its step (tracing.StartJob).
	Name string
	once sync.Once
	wake chan struct{}
}

func (l *Loop) wakeChan() chan struct{} {
	l.once.Do(func() { l.wake = make(chan struct{}, 1) })
	return l.wake
}

// Wake makes Run look for work now, e.g. after a transaction that queued
// some committed. It never blocks.
func (l *Loop) Wake() {
	select {
	case l.wakeChan() <- struct{}{}:
	default:
	}
}

// Run calls step at once, then every poll and whenever woken, until ctx is
// done; each time it calls step again for as long as step reports that it
// did some work. Each step that did is traced as the job l.Name, with its
// database statements as children.
func (l *Loop) Run(ctx context.Context, poll time.Duration, step func(context.Context) bool) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.wakeChan():
		}
		for ctx.Err() == nil && l.step(ctx, step) {
		}
		t.Reset(poll)
	}
}

func (l *Loop) step(ctx context.Context, step func(context.Context) bool) bool {
	if l.Name == "" {
		return step(ctx)
	}
	ctx, end := tracing.StartJob(ctx, l.Name)
	worked := step(ctx)
	end(worked, nil)
	return worked
}

// Backoff is the wait of the outboxes' workers (mail, deliveries) after a
// failed attempt, by attempt number from 1: 30 s after the first, doubling
// each time, at most an hour, so that about 30 attempts fit in a day.
func Backoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}
