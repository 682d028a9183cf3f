package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/delivery"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

func newDelivery(r directory.Realm, url string, due time.Time) delivery.Delivery {
	d := delivery.New(now, r.TenantID, r.ID, "test", "test:"+url, url, `{"n":1}`)
	d.NextAttemptTime = due
	return d
}

func deliveryID(d delivery.Delivery) string { return d.ID }

func claimDeliveries(t *testing.T, s store.Store, owner string, at time.Time, limit int, full ...delivery.Lane) []delivery.Delivery {
	t.Helper()
	got, err := s.Delivery().ClaimDeliveries(t.Context(), owner, at, time.Minute, limit, delivery.Lanes{Full: full}, nil)
	must(t, err)
	return got
}

func getDelivery(t *testing.T, s store.Store, id string) delivery.Delivery {
	t.Helper()
	d, err := s.Delivery().GetDelivery(t.Context(), id)
	must(t, err)
	return d
}

// testDeliveryOutbox: claims lease due deliveries first due first, leave
// out busy targets, count attempts; only the lease's holder records an
// outcome; a retry is due again at its time; delivered and failed ones are
// never claimed again; a rolled-back enqueue leaves nothing.
func testDeliveryOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	a := newDelivery(r, "https://a.example/logout", now)
	b := newDelivery(r, "https://b.example:8443/hook?x=1", now.Add(-time.Second))
	later := newDelivery(r, "https://a.example/later", now.Add(time.Hour))
	for _, d := range []delivery.Delivery{a, b, later} {
		must(t, s.EnqueueDelivery(ctx, d))
	}
	equal(t, "stored delivery", getDelivery(t, s, a.ID), a)
	if b.Target != "https://b.example:8443" {
		t.Errorf("target %q", b.Target)
	}
	_, err := s.Delivery().GetDelivery(ctx, latchkey.NewID())
	wantErr(t, "a missing delivery", err, latchkey.ErrNotFound)

	// A full lane is left out; the others come first due first.
	got := claimDeliveries(t, s, "one", now, 10, delivery.LaneOf(b))
	sameIDs(t, "claimed without b's lane", ids(got, deliveryID), []string{a.ID})
	if got[0].Attempts != 1 || got[0].State != delivery.StatePending || got[0].Payload != a.Payload || got[0].URL != a.URL {
		t.Errorf("claimed %+v", got[0])
	}
	sameIDs(t, "claimed the rest", ids(claimDeliveries(t, s, "one", now, 10), deliveryID), []string{b.ID})
	sameIDs(t, "claimed while leased", ids(claimDeliveries(t, s, "two", now.Add(30*time.Second), 10), deliveryID), nil)

	// After the lease runs out another owner takes them; the first one's
	// outcome no longer applies.
	expired := now.Add(2 * time.Minute)
	got = claimDeliveries(t, s, "two", expired, 1)
	sameIDs(t, "claimed after the lease", ids(got, deliveryID), []string{b.ID})
	if got[0].Attempts != 2 {
		t.Errorf("attempts %d, want 2", got[0].Attempts)
	}
	done := delivery.Outcome{State: delivery.StateDelivered, Time: expired, Status: 204}
	wantErr(t, "an outcome by the old owner", s.Delivery().FinishAttempt(ctx, b.ID, "one", done), latchkey.ErrNotFound)
	must(t, s.Delivery().FinishAttempt(ctx, b.ID, "two", done))
	d := getDelivery(t, s, b.ID)
	if d.State != delivery.StateDelivered || d.LastStatus != 204 || !d.LastAttemptTime.Equal(expired) || !d.UpdateTime.Equal(expired) {
		t.Errorf("delivered %+v", d)
	}
	wantErr(t, "an outcome of a delivered delivery", s.Delivery().FinishAttempt(ctx, b.ID, "two", done), latchkey.ErrNotFound)

	// A retry is due again at its next time, with its status and error.
	got = claimDeliveries(t, s, "two", expired, 10)
	sameIDs(t, "claimed a again", ids(got, deliveryID), []string{a.ID})
	next := expired.Add(10 * time.Minute)
	must(t, s.Delivery().FinishAttempt(ctx, a.ID, "two",
		delivery.Outcome{State: delivery.StatePending, Time: expired, Status: 503, Error: "answered 503", Next: next}))
	sameIDs(t, "claimed before the retry is due", ids(claimDeliveries(t, s, "two", next.Add(-time.Second), 10), deliveryID), nil)
	got = claimDeliveries(t, s, "three", next, 10)
	sameIDs(t, "claimed when the retry is due", ids(got, deliveryID), []string{a.ID})
	if got[0].LastStatus != 503 || got[0].LastError != "answered 503" || got[0].Attempts != 3 || !got[0].NextAttemptTime.Equal(next) {
		t.Errorf("retried %+v", got[0])
	}

	// A failed delivery is never claimed again; its next attempt time stays.
	must(t, s.Delivery().FinishAttempt(ctx, a.ID, "three",
		delivery.Outcome{State: delivery.StateFailed, Time: next, Status: 400, Error: "answered 400"}))
	if d := getDelivery(t, s, a.ID); d.State != delivery.StateFailed || d.LastStatus != 400 || !d.NextAttemptTime.Equal(next) {
		t.Errorf("failed %+v", d)
	}
	sameIDs(t, "claimed at the end", ids(claimDeliveries(t, s, "three", later.NextAttemptTime.Add(time.Hour), 10), deliveryID), []string{later.ID})

	// A delivery enqueued in a transaction that rolls back does not exist.
	rolledBack := newDelivery(r, "https://c.example/", now)
	boom := errors.New("boom")
	err = s.Delivery().Update(ctx, func(tx delivery.Tx) error {
		must(t, tx.EnqueueDelivery(ctx, rolledBack))
		return boom
	})
	wantErr(t, "the rolled-back transaction", err, boom)
	_, err = s.Delivery().GetDelivery(ctx, rolledBack.ID)
	wantErr(t, "a delivery of a rolled-back transaction", err, latchkey.ErrNotFound)
}

// testDeliveryClaimRace has claimers (nodes) race for one outbox: each
// delivery is claimed by exactly one of them.
func testDeliveryClaimRace(t *testing.T, s store.Store) {
	r := newRealm(t, s)
	var want []string
	for i := range 60 {
		d := newDelivery(r, "https://rp"+string(rune('a'+i%5))+".example/", now.Add(time.Duration(i)*time.Millisecond))
		must(t, s.EnqueueDelivery(t.Context(), d))
		want = append(want, d.ID)
	}
	claimedOnce(t, "claimed deliveries", want, func(owner string) ([]string, error) {
		got, err := s.Delivery().ClaimDeliveries(t.Context(), owner, now.Add(time.Second), time.Minute, 1, delivery.Lanes{}, nil)
		return ids(got, deliveryID), err
	})
}

// testDeliveryLanes: a claim asks take of each due delivery's lane, first
// due first, and claims those it takes (up to limit); Only restricts it to
// some lanes, each up to its room. Outcomes recorded at once each get
// their own answer.
func testDeliveryLanes(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	var a, b []delivery.Delivery
	for i := range 4 {
		a = append(a, newDelivery(r, "https://a.example/", now.Add(time.Duration(2*i)*time.Millisecond)))
		b = append(b, newDelivery(r, "https://b.example/", now.Add(time.Duration(2*i+1)*time.Millisecond)))
	}
	for _, d := range append(slices.Clone(a), b...) {
		must(t, s.EnqueueDelivery(ctx, d))
	}
	claim := func(owner string, limit int, lanes delivery.Lanes, perLane int) []delivery.Delivery {
		t.Helper()
		taken := map[delivery.Lane]int{}
		got, err := s.Delivery().ClaimDeliveries(ctx, owner, now.Add(time.Second), time.Minute, limit, lanes, func(l delivery.Lane) bool {
			taken[l]++
			return taken[l] <= perLane
		})
		must(t, err)
		return got
	}
	sameIDs(t, "two of each lane", ids(claim("one", 10, delivery.Lanes{}, 2), deliveryID), ids([]delivery.Delivery{a[0], b[0], a[1], b[1]}, deliveryID))
	sameIDs(t, "a's and b's lanes up to their rooms", ids(claim("one", 0, delivery.Lanes{Only: []delivery.LaneRoom{
		{Lane: delivery.LaneOf(a[0]), Room: 1}, {Lane: delivery.LaneOf(b[0]), Room: 5}}}, 0), deliveryID), []string{a[2].ID, b[2].ID, b[3].ID})
	sameIDs(t, "up to limit", ids(claim("one", 1, delivery.Lanes{}, 2), deliveryID), []string{a[3].ID})

	// Outcomes of one owner's attempts, recorded concurrently; one of them
	// by an owner that does not hold the lease.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i, d := range append(slices.Clone(a), b...) {
		owner := map[bool]string{true: "two", false: "one"}[i == 4]
		wg.Go(func() {
			errs[i] = s.Delivery().FinishAttempt(ctx, d.ID, owner, delivery.Outcome{State: delivery.StateDelivered, Time: now, Status: 204})
		})
	}
	wg.Wait()
	for i, d := range append(slices.Clone(a), b...) {
		if i == 4 {
			wantErr(t, "an outcome by another owner", errs[i], latchkey.ErrNotFound)
			if got := getDelivery(t, s, d.ID); got.State != delivery.StatePending {
				t.Errorf("recorded by another owner: %+v", got)
			}
			continue
		}
		must(t, errs[i])
		if got := getDelivery(t, s, d.ID); got.State != delivery.StateDelivered || got.LastStatus != 204 {
			t.Errorf("delivered %+v", got)
		}
	}
}

// testSessionsEndedHook: every ending of sessions calls the store's
// OnSessionsEnded function in its own transaction, with what it ended;
// what the function queues commits with the ending, and its error rolls
// the ending back.
func testSessionsEndedHook(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	a, b := addSession(t, s, r, "alice", "laptop"), addSession(t, s, r, "bob", "phone")
	boom := errors.New("boom")
	var calls [][]string
	var queued []string
	s.OnSessionsEnded(func(ctx context.Context, tx store.Tx, ended []session.Session) error {
		calls = append(calls, sessionIDs(ended))
		for _, v := range ended {
			if v.IdentityID == "bob" {
				return boom
			}
			d := newDelivery(r, "https://rp.example/logout", now)
			d.Payload = v.ID
			if err := tx.EnqueueDelivery(ctx, d); err != nil {
				return err
			}
			queued = append(queued, d.ID)
		}
		return nil
	})
	defer s.OnSessionsEnded(nil)

	ended, err := s.EndSessions(ctx, session.End{At: now, Reason: session.ReasonSignedOut, IDs: []string{a.ID}})
	must(t, err)
	sameSessions(t, "ended", sessionIDs(ended), []string{a.ID})
	if len(calls) != 1 || !slices.Equal(calls[0], []string{a.ID}) || len(queued) != 1 {
		t.Fatalf("calls %v, queued %v", calls, queued)
	}
	if d := getDelivery(t, s, queued[0]); d.Payload != a.ID {
		t.Errorf("queued %+v", d)
	}
	// Ending nothing calls nothing.
	_, err = s.EndSessions(ctx, session.End{At: now, Reason: session.ReasonSignedOut, IDs: []string{a.ID}})
	must(t, err)
	if len(calls) != 1 {
		t.Errorf("called for no session: %v", calls)
	}

	// Inside a transaction of another domain too; an error undoes the ending.
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.EndSessions(ctx, session.End{At: now, Reason: session.ReasonIdentitySuspended, IdentityIDs: []string{"bob"}})
		return err
	})
	wantErr(t, "an ending whose hook fails", err, boom)
	if v, err := s.GetSession(ctx, b.ID); err != nil || !v.Live(now) {
		t.Errorf("after the failed ending: %+v, %v; want it live", v, err)
	}
}
