package delivery

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/background"
)

// Kind makes the body of a delivery and its headers (Content-Type, and any
// signature over the body) at the time of an attempt. An error that is
// latchkey.ErrNotFound (what the delivery was about is gone) fails the
// delivery; any other is retried.
type Kind func(ctx context.Context, d Delivery, now time.Time) (header map[string]string, body []byte, err error)

// Worker sends the outbox: it claims due deliveries one at a time, POSTs
// each in a goroutine of its own (at most Concurrency at once, at most
// PerTarget to one target), and records each delivered, due again later
// (with backoff), or failed. Workers on several nodes share one outbox; a
// delivery's lease keeps two of them from sending it at once.
type Worker struct {
	Store  Store
	Kinds  map[string]Kind
	Logger *slog.Logger
	// Owner names this worker in leases; it must differ between nodes.
	Owner string
	// Client sends the requests; nil is a client that follows no redirect
	// (a 3xx is an answer like any other). Clients, by kind, replaces it
	// for the deliveries of that kind (e.g. one that refuses private
	// addresses).
	Client  *http.Client
	Clients map[string]*http.Client
	// Failed, by kind, is told of each delivery of that kind that failed
	// for good, once its outcome is recorded.
	Failed map[string]func(ctx context.Context, d Delivery, o Outcome)
	// Concurrency is how many deliveries are sent at once (default 16);
	// PerTarget how many of them may go to one scheme and host (default 4),
	// so that a slow target leaves room for the others.
	Concurrency, PerTarget int
	// Timeout bounds one attempt, answer included (default 10 s).
	Timeout time.Duration
	// Lease is how long a claimed delivery is reserved for this worker
	// (default 1 min); an attempt still running at nine tenths of it is
	// cancelled and tried again later.
	Lease time.Duration
	// RetryFor is how long after its creation a delivery is still retried
	// (default 24 h); Backoff the wait after a failed attempt, by attempt
	// number from 1 (default DefaultBackoff).
	RetryFor time.Duration
	Backoff  func(attempt int) time.Duration
	// PollInterval is how often the outbox is checked without Wake (default 1 s).
	PollInterval time.Duration
	// Clock decides which deliveries are due and how long leases last.
	Clock latchkey.Clock

	loop     background.Loop
	mu       sync.Mutex
	sending  int            // attempts under way
	byTarget map[string]int // attempts under way, by target
	wg       sync.WaitGroup
}

// DefaultBackoff waits 30 s after the first attempt, doubling each time, at
// most an hour: about 30 attempts in a day.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

// Wake makes Run check the outbox now, e.g. after a transaction that
// enqueued a delivery committed. It never blocks.
func (w *Worker) Wake() { w.loop.Wake() }

// Run sends until ctx is done, then waits for the attempts under way to
// stop; those it cancelled are left to their lease, and sent again later
// by this or another node.
func (w *Worker) Run(ctx context.Context) {
	defer w.wg.Wait()
	w.loop.Name = "deliveries"
	w.loop.Run(ctx, cmp.Or(w.PollInterval, time.Second), w.claimDue)
}

// claimDue claims one due delivery, if there is room for another attempt,
// and starts sending it; it reports whether it did, so that there may be
// more. One claim takes one delivery so that the targets already at
// PerTarget can be left out of the next.
func (w *Worker) claimDue(ctx context.Context) bool {
	w.mu.Lock()
	if w.sending >= cmp.Or(w.Concurrency, 16) {
		w.mu.Unlock()
		return false // a finishing attempt wakes the loop
	}
	var busy []string
	for t, n := range w.byTarget {
		if n >= cmp.Or(w.PerTarget, 4) {
			busy = append(busy, t)
		}
	}
	w.mu.Unlock()
	lease := cmp.Or(w.Lease, time.Minute)
	// Started before the claim, as the lease is: a real wait, not the clock's.
	sendCtx, cancel := context.WithTimeout(ctx, min(cmp.Or(w.Timeout, 10*time.Second), lease-lease/10))
	ds, err := w.Store.ClaimDeliveries(ctx, w.Owner, w.Clock.Now(), lease, 1, busy)
	if err != nil || len(ds) == 0 {
		cancel()
		if err != nil && ctx.Err() == nil {
			w.Logger.Warn("claim deliveries", "err", err)
		}
		return false
	}
	d := ds[0]
	w.mu.Lock()
	if w.byTarget == nil {
		w.byTarget = map[string]int{}
	}
	w.sending++
	w.byTarget[d.Target]++
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer cancel()
		w.attempt(ctx, sendCtx, d)
		w.mu.Lock()
		w.sending--
		if w.byTarget[d.Target]--; w.byTarget[d.Target] == 0 {
			delete(w.byTarget, d.Target)
		}
		w.mu.Unlock()
		w.Wake()
	}()
	return true
}

// errPermanent marks an attempt that must not be repeated.
var errPermanent = errors.New("will not be retried")

// attempt sends d with sendCtx and records the outcome with ctx.
func (w *Worker) attempt(ctx, sendCtx context.Context, d Delivery) {
	// The attempt's time, from which its retry is due, is when it began:
	// what its payload was made at, not whenever the answer came.
	t := w.Clock.Now()
	status, sendErr := w.send(sendCtx, d, t)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the delivery is tried again
	}
	log := w.Logger.With("delivery_id", d.ID, "kind", d.Kind, "ref", d.Ref, "target", d.Target, "attempt", d.Attempts, "status", status)
	o := Outcome{State: StateDelivered, Time: t, Status: status}
	if sendErr != nil {
		o.Error = sendErr.Error()
		backoff := w.Backoff
		if backoff == nil {
			backoff = DefaultBackoff
		}
		o.Next = t.Add(backoff(d.Attempts))
		o.State = StatePending
		if errors.Is(sendErr, errPermanent) || o.Next.After(d.CreateTime.Add(cmp.Or(w.RetryFor, 24*time.Hour))) {
			o.State, o.Next = StateFailed, time.Time{}
		}
	}
	switch o.State {
	case StateDelivered:
		log.Info("delivered")
	case StateFailed:
		log.Error("delivery failed for good", "err", sendErr)
	default:
		log.Warn("not delivered; will retry", "err", sendErr, "next_attempt_time", o.Next)
	}
	if err := w.Store.FinishAttempt(ctx, d.ID, w.Owner, o); err != nil {
		log.Warn("record delivery attempt", "err", err)
		return
	}
	if f := w.Failed[d.Kind]; f != nil && o.State == StateFailed {
		f(ctx, d, o)
	}
}

// send makes d's request as at now and POSTs it. It returns the answer's status (0
// for none) and nil for a 2xx; an error wrapping errPermanent for an
// answer that a retry would not change; any other error is worth a retry
// (no answer, 408, 429, 5xx).
func (w *Worker) send(ctx context.Context, d Delivery, now time.Time) (int, error) {
	kind, ok := w.Kinds[d.Kind]
	if !ok {
		return 0, fmt.Errorf("no kind %q on this node: %w", d.Kind, errPermanent)
	}
	header, body, err := kind(ctx, d, now)
	if errors.Is(err, latchkey.ErrNotFound) {
		return 0, fmt.Errorf("%v: %w", err, errPermanent)
	}
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%v: %w", err, errPermanent)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "Latchkey")
	client := w.Client
	if c := w.Clients[d.Kind]; c != nil {
		client = c
	}
	if client == nil {
		client = noRedirects
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	// Read a little of the answer so the connection can be reused; its text is of no use.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return c, nil
	case c >= 500, c == http.StatusRequestTimeout, c == http.StatusTooManyRequests:
		return c, fmt.Errorf("answered %s", resp.Status)
	default:
		return c, fmt.Errorf("answered %s: %w", resp.Status, errPermanent)
	}
}

// noRedirects is the default client: a delivery goes where it was
// addressed, never where an answer points.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
