package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// addRealm adds a tenant with a realm.
func addRealm(t *testing.T, s *sqlstore.Store) directory.Realm {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	tn := directory.Tenant{ID: latchkey.NewTenantID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
	r := directory.Realm{ID: latchkey.NewID(), TenantID: tn.ID, DisplayName: "Acme",
		Classification: directory.SecureWorkforce, CreateTime: now, UpdateTime: now}
	must(t, s.CreateTenant(t.Context(), tn))
	must(t, s.CreateRealm(t.Context(), r))
	return r
}

// echo is the kind of these tests: its body is the payload.
func echo(_ context.Context, d delivery.Delivery, _ time.Time) (map[string]string, []byte, error) {
	return map[string]string{"Content-Type": "application/json"}, []byte(d.Payload), nil
}

// enqueue queues a delivery of payload to url, due on the clock's now.
func enqueue(t *testing.T, s *sqlstore.Store, r directory.Realm, clock *testenv.Clock, url, payload string) delivery.Delivery {
	t.Helper()
	d := delivery.New(latchkey.Clock(clock.Now).Now(), r.TenantID, r.ID, "echo", "test:"+payload, url, payload)
	must(t, s.Delivery().Update(t.Context(), func(tx delivery.Tx) error { return tx.EnqueueDelivery(t.Context(), d) }))
	return d
}

func newWorker(s *sqlstore.Store, clock *testenv.Clock, owner string) *delivery.Worker {
	return &delivery.Worker{Store: s.Delivery(), Kinds: map[string]delivery.Kind{"echo": echo}, Logger: quiet,
		Owner: owner, PollInterval: 5 * time.Millisecond, Clock: clock.Now}
}

// run runs w until the test ends.
func run(t *testing.T, w *delivery.Worker) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor waits until a delivery satisfies ok and returns it.
func waitFor(t *testing.T, s *sqlstore.Store, id string, what string, ok func(delivery.Delivery) bool) delivery.Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, err := s.Delivery().GetDelivery(t.Context(), id)
		must(t, err)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s is not %s after 10 s: %+v", id, what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func inState(state string) func(delivery.Delivery) bool {
	return func(d delivery.Delivery) bool { return d.State == state }
}

// ended is a delivery whose n-th attempt ended at t.
func ended(n int, t time.Time) func(delivery.Delivery) bool {
	return func(d delivery.Delivery) bool { return d.Attempts == n && d.LastAttemptTime.Equal(t) }
}

// receiver is a real HTTP server that answers with the codes of answer, by
// request number from 1, and records what it received.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	received []received
}

type received struct{ contentType, body string }

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.received = append(rc.received, received{r.Header.Get("Content-Type"), string(body)})
		n := len(rc.received)
		rc.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// holdingReceiver is a receiver that holds each request until release is
// closed (or the request ends), and counts the requests it holds at once.
type holdingReceiver struct {
	*receiver
	release   chan struct{}
	mu        sync.Mutex
	now, most int
}

func newHoldingReceiver(t *testing.T) *holdingReceiver {
	h := &holdingReceiver{release: make(chan struct{})}
	h.receiver = newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.now++
		h.most = max(h.most, h.now)
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-r.Context().Done():
		}
		h.mu.Lock()
		h.now--
		h.mu.Unlock()
	})
	return h
}

// held is how many requests it holds now, and the most it held at once.
func (h *holdingReceiver) held() (now, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now, h.most
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.received...)
}

func status(codes ...int) func(int, http.ResponseWriter, *http.Request) {
	return func(n int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(codes[min(n, len(codes))-1]) }
}

func TestWorkerDelivers(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			clock := testenv.NewClock()
			rc := newReceiver(t, status(http.StatusOK))
			w := newWorker(s, clock, "node-a")
			w.PollInterval = time.Hour // only Wake can deliver it in time
			run(t, w)
			d := enqueue(t, s, r, clock, rc.URL+"/logout", `{"hello":"world"}`)
			w.Wake()
			got := waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
			if got.Attempts != 1 || got.LastStatus != 200 || got.LastError != "" || !got.LastAttemptTime.Equal(latchkey.Clock(clock.Now).Now()) {
				t.Errorf("delivered %+v", got)
			}
			if rec := rc.got(); len(rec) != 1 || rec[0].body != `{"hello":"world"}` || rec[0].contentType != "application/json" {
				t.Errorf("received %+v", rec)
			}
		})
	}
}

// TestWorkerRetries: a receiver that answers 500 and then 200 gets the
// delivery again once the clock passes the backoff, not before.
func TestWorkerRetries(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			clock := testenv.NewClock()
			rc := newReceiver(t, status(http.StatusInternalServerError, http.StatusOK))
			run(t, newWorker(s, clock, "node-a"))
			d := enqueue(t, s, r, clock, rc.URL, `{"n":1}`)
			first := waitFor(t, s, d.ID, "tried once", ended(1, d.CreateTime))
			if first.LastStatus != 500 || !strings.Contains(first.LastError, "500") ||
				!first.NextAttemptTime.Equal(first.LastAttemptTime.Add(30*time.Second)) {
				t.Fatalf("after the 500: %+v", first)
			}
			clock.Advance(29 * time.Second)
			// Not due within the backoff: another node's look claims nothing.
			if got, err := s.Delivery().ClaimDeliveries(t.Context(), "looks", clock.Now(), time.Minute, 1, delivery.Lanes{}, nil); err != nil || len(got) != 0 {
				t.Fatalf("claimed within the backoff: %v, %v", got, err)
			}
			clock.Advance(time.Second)
			got := waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
			if got.Attempts != 2 || got.LastStatus != 200 || got.LastError != "" || len(rc.got()) != 2 {
				t.Errorf("delivered %+v after %d requests", got, len(rc.got()))
			}
		})
	}
}

// TestWorkerGivesUp: an answer a retry would not change (400), or a kind
// whose subject is gone, fails at once; connection errors and timeouts are
// retried until RetryFor has passed since the delivery was made.
func TestWorkerGivesUp(t *testing.T) {
	s := testenv.OpenSQLite(t)
	r := addRealm(t, s)
	clock := testenv.NewClock()
	w := newWorker(s, clock, "node-a")
	w.Kinds["gone"] = func(context.Context, delivery.Delivery, time.Time) (map[string]string, []byte, error) {
		return nil, nil, fmt.Errorf("application not found: %w", latchkey.ErrNotFound)
	}
	w.Timeout, w.RetryFor = 100*time.Millisecond, 2*time.Minute
	w.Backoff = func(int) time.Duration { return time.Minute }
	run(t, w)

	refused := enqueue(t, s, r, clock, newReceiver(t, status(http.StatusBadRequest)).URL, `{"n":1}`)
	got := waitFor(t, s, refused.ID, "failed", inState(delivery.StateFailed))
	if got.Attempts != 1 || got.LastStatus != 400 || !strings.Contains(got.LastError, "400") {
		t.Errorf("after a 400: %+v", got)
	}

	gone := delivery.New(latchkey.Clock(clock.Now).Now(), r.TenantID, r.ID, "gone", "test:gone", "https://rp.example/", "{}")
	must(t, s.Delivery().Update(t.Context(), func(tx delivery.Tx) error { return tx.EnqueueDelivery(t.Context(), gone) }))
	if got := waitFor(t, s, gone.ID, "failed", inState(delivery.StateFailed)); !strings.Contains(got.LastError, "application not found") {
		t.Errorf("a kind whose subject is gone: %+v", got)
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // nothing listens there any more
	hanging := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	retried := map[string]delivery.Delivery{
		"connection refused": enqueue(t, s, r, clock, down.URL, `{"n":2}`),
		"timeout":            enqueue(t, s, r, clock, hanging.URL, `{"n":3}`),
	}
	// Attempts at 0, 1 and 2 minutes: the third's retry would come after RetryFor.
	for attempt, state := range []string{delivery.StatePending, delivery.StatePending, delivery.StateFailed} {
		at := latchkey.Clock(clock.Now).Now()
		for what, d := range retried {
			got := waitFor(t, s, d.ID, fmt.Sprintf("tried %d times", attempt+1), ended(attempt+1, at))
			if got.State != state || got.LastStatus != 0 || got.LastError == "" {
				t.Errorf("%s, attempt %d: %+v, want %s", what, attempt+1, got, state)
			}
		}
		clock.Advance(time.Minute)
	}
}

// TestSlowTargetHoldsUpNoOther: a target that does not answer gets at most
// PerTarget attempts at once; the deliveries to another target, due after
// all of its, go out meanwhile.
func TestSlowTargetHoldsUpNoOther(t *testing.T) {
	s := testenv.OpenSQLite(t)
	r := addRealm(t, s)
	clock := testenv.NewClock()
	slow := newHoldingReceiver(t)
	fast := newReceiver(t, status(http.StatusNoContent))
	var slowOnes, fastOnes []delivery.Delivery
	for i := range 6 {
		slowOnes = append(slowOnes, enqueue(t, s, r, clock, slow.URL, fmt.Sprintf(`{"slow":%d}`, i)))
	}
	clock.Advance(time.Second) // the fast target's deliveries are due after all of the slow one's
	for i := range 3 {
		fastOnes = append(fastOnes, enqueue(t, s, r, clock, fast.URL, fmt.Sprintf(`{"fast":%d}`, i)))
	}
	w := newWorker(s, clock, "node-a")
	w.Concurrency, w.PerTarget = 4, 2
	run(t, w)
	for _, d := range fastOnes {
		waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
	}
	if _, most := slow.held(); most != 2 {
		t.Errorf("%d attempts at once to the slow target, want PerTarget (2)", most)
	}
	close(slow.release)
	for _, d := range slowOnes {
		waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
	}
}

// TestNodeStoppedMidDelivery: a worker stopped while its receiver has not
// answered leaves the delivery leased; once the lease runs out on the
// clock, another node's worker delivers it.
func TestNodeStoppedMidDelivery(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			clock := testenv.NewClock()
			started := make(chan struct{})
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					close(started)
					<-r.Context().Done() // the node stops before it has an answer
				}
			})
			d := enqueue(t, s, r, clock, rc.URL, `{"n":1}`)
			ctx, stop := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { newWorker(s, clock, "stops").Run(ctx); close(stopped) }()
			<-started
			stop()
			<-stopped

			run(t, newWorker(s, clock, "takes over"))
			if got, err := s.Delivery().GetDelivery(t.Context(), d.ID); err != nil || got.State != delivery.StatePending || got.Attempts != 1 {
				t.Fatalf("within the lease: %+v, %v; want pending after one attempt", got, err)
			}
			clock.Advance(time.Minute + time.Microsecond) // the default lease
			got := waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
			if got.Attempts != 2 || len(rc.got()) != 2 {
				t.Errorf("delivered %+v after %d requests; want the second attempt", got, len(rc.got()))
			}
		})
	}
}

// TestTwoNodesDeliverOnce: workers of two nodes on one outbox send each
// delivery once, not once per node.
func TestTwoNodesDeliverOnce(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			clock := testenv.NewClock()
			rc := newReceiver(t, status(http.StatusOK))
			var want []delivery.Delivery
			for i := range 30 {
				want = append(want, enqueue(t, s, r, clock, rc.URL, fmt.Sprintf(`{"n":%d}`, i)))
			}
			run(t, newWorker(s, clock, "node-a"))
			run(t, newWorker(s, clock, "node-b"))
			for _, d := range want {
				waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
			}
			seen := map[string]int{}
			for _, rec := range rc.got() {
				seen[rec.body]++
			}
			for _, d := range want {
				if seen[d.Payload] != 1 {
					t.Errorf("%s received %d times", d.Payload, seen[d.Payload])
				}
			}
		})
	}
}

// TestFullLaneAndWake: PerTargetOf, by kind, replaces PerTarget. With the
// poll an hour away, a worker whose one lane is full sends that lane's
// next delivery as soon as one of its attempts ends, and a delivery
// queued for another target as soon as it is woken.
func TestFullLaneAndWake(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			s := eng.Open(t)
			r := addRealm(t, s)
			clock := testenv.NewClock()
			slow := newHoldingReceiver(t)
			var slowOnes []delivery.Delivery
			for i := range 7 {
				slowOnes = append(slowOnes, enqueue(t, s, r, clock, slow.URL, fmt.Sprintf(`{"slow":%d}`, i)))
			}
			w := newWorker(s, clock, "node-a")
			w.PerTarget, w.PerTargetOf, w.PollInterval = 1, map[string]int{"echo": 3}, time.Hour
			run(t, w)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				n, _ := slow.held()
				if n == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d attempts at once to the slow target, want 3", n)
				}
			}
			time.Sleep(50 * time.Millisecond) // the claim that finds the lane full, and only it, due
			fast := enqueue(t, s, r, clock, newReceiver(t, status(http.StatusNoContent)).URL, `{"fast":1}`)
			w.Wake()
			waitFor(t, s, fast.ID, "delivered", inState(delivery.StateDelivered))
			close(slow.release)
			for _, d := range slowOnes {
				waitFor(t, s, d.ID, "delivered", inState(delivery.StateDelivered))
			}
			if _, most := slow.held(); most != 3 {
				t.Errorf("at most %d attempts at once to the slow target, want PerTargetOf (3)", most)
			}
		})
	}
}
