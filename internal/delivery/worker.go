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

// Worker sends the outbox: it claims due deliveries, as many at a time as
// it has room for, POSTs each in a goroutine of its own (at most
// Concurrency at once, at most PerTarget of one lane: one kind to one
// target), and records each delivered, due again later (with backoff), or
// failed. Workers on several nodes share one outbox; a delivery's lease
// keeps two of them from sending it at once.
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
	// Concurrency is how many deliveries are sent at once (default 32);
	// PerTarget how many of them may be of one kind to one scheme and host
	// (default 4), so that a slow target leaves room for the others.
	// PerTargetOf, by kind, replaces PerTarget for that kind (webhooks,
	// whose one receiver takes every event of a realm, need more).
	Concurrency, PerTarget int
	PerTargetOf            map[string]int
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

	loop    background.Loop
	mu      sync.Mutex
	sending int          // attempts under way
	byLane  map[Lane]int // attempts under way, by lane
	// saturated is the lanes that were full when a claim of every other
	// lane found nothing due, at saturatedAt (real time). Until a Wake or
	// PollInterval later, claims look only in those of them that have
	// room again: a claim of every other lane walks past all of the full
	// lanes' due deliveries, on every attempt that ends.
	saturated   []Lane
	saturatedAt time.Time
	wakes       int // Wake calls: one during a claim voids what it found
	wg          sync.WaitGroup
}

// DefaultBackoff is the Backoff of a Worker that sets none, the outboxes'
// shared background.Backoff.
var DefaultBackoff = background.Backoff

// Wake makes Run check the outbox now, e.g. after a transaction that
// enqueued a delivery committed. It never blocks.
func (w *Worker) Wake() {
	w.mu.Lock()
	w.saturated = nil
	w.wakes++
	w.mu.Unlock()
	w.loop.Wake()
}

// Run sends until ctx is done, then waits for the attempts under way to
// stop; those it cancelled are left to their lease, and sent again later
// by this or another node.
func (w *Worker) Run(ctx context.Context) {
	defer w.wg.Wait()
	w.loop.Name = "deliveries"
	w.loop.Run(ctx, cmp.Or(w.PollInterval, time.Second), w.claimDue)
}

// perTarget is how many deliveries of kind may go to one target at once.
func (w *Worker) perTarget(kind string) int {
	if n := w.PerTargetOf[kind]; n > 0 {
		return n
	}
	return cmp.Or(w.PerTarget, 4)
}

// claimDue claims as many due deliveries as there is room for, each lane
// up to its limit (the full ones left out of the claim), and starts
// sending them; it reports whether it claimed any, so that there may be
// more (of lanes that became full meanwhile, the next claim leaves them out).
func (w *Worker) claimDue(ctx context.Context) bool {
	w.mu.Lock()
	room := cmp.Or(w.Concurrency, 32) - w.sending
	var lanes Lanes
	counted := make(map[Lane]int, len(w.byLane)) // what take counts, in this claim only
	for l, n := range w.byLane {
		counted[l] = n
		if n >= w.perTarget(l.Kind) {
			lanes.Full = append(lanes.Full, l)
		}
	}
	if w.saturated != nil && time.Since(w.saturatedAt) < cmp.Or(w.PollInterval, time.Second) {
		laneRoom := 0
		for _, l := range w.saturated {
			if free := min(w.perTarget(l.Kind)-counted[l], room-laneRoom); free > 0 {
				lanes.Only = append(lanes.Only, LaneRoom{l, free})
				laneRoom += free
			}
		}
		room = laneRoom // 0: nothing due has room
		lanes.Full = nil
	} else {
		w.saturated = nil
	}
	wakes := w.wakes
	w.mu.Unlock()
	if room <= 0 {
		return false // a finishing attempt wakes the loop
	}
	take := func(l Lane) bool {
		if counted[l] >= w.perTarget(l.Kind) {
			return false
		}
		counted[l]++
		return true
	}
	lease := cmp.Or(w.Lease, time.Minute)
	// From before the claim, as the lease is: a real wait, not the clock's.
	start := time.Now()
	deadline := start.Add(min(cmp.Or(w.Timeout, 10*time.Second), lease-lease/10))
	ds, err := w.Store.ClaimDeliveries(ctx, w.Owner, w.Clock.Now(), lease, room, lanes, take)
	if err != nil || len(ds) == 0 {
		if err != nil && ctx.Err() == nil {
			w.Logger.Warn("claim deliveries", "err", err)
		}
		if err == nil && lanes.Only == nil && lanes.Full != nil {
			w.mu.Lock()
			if w.wakes == wakes {
				w.saturated, w.saturatedAt = lanes.Full, start
			}
			w.mu.Unlock()
		}
		return false
	}
	w.mu.Lock()
	if w.byLane == nil {
		w.byLane = map[Lane]int{}
	}
	w.sending += len(ds)
	for _, d := range ds {
		w.byLane[LaneOf(d)]++
	}
	w.mu.Unlock()
	for _, d := range ds {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			sendCtx, cancel := context.WithDeadline(ctx, deadline)
			w.attempt(ctx, sendCtx, d)
			cancel()
			w.mu.Lock()
			w.sending--
			if l := LaneOf(d); w.byLane[l] <= 1 {
				delete(w.byLane, l)
			} else {
				w.byLane[l]--
			}
			w.mu.Unlock()
			w.loop.Wake() // not Wake: nothing was queued
		}()
	}
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
