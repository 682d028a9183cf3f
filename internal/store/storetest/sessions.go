package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store"
)

func newSession(r directory.Realm, identityID, credentialID string) session.Session {
	return session.Session{ID: latchkey.RandomString(32), TenantID: r.TenantID, RealmID: r.ID, IdentityID: identityID,
		CredentialID: credentialID, AuthTime: now, AMR: []string{"pop", "user"}, ACR: "phr", IP: "192.0.2.1",
		UserAgent: "Test/1.0", IdleTimeout: time.Hour, CreateTime: now, LastSeenTime: now,
		IdleExpireTime: now.Add(time.Hour), AbsoluteExpireTime: now.Add(3 * time.Hour), Applications: []string{}}
}

func addSession(t *testing.T, s store.Store, r directory.Realm, identityID, credentialID string) session.Session {
	t.Helper()
	v := newSession(r, identityID, credentialID)
	must(t, s.CreateSession(t.Context(), v))
	return v
}

func sessionIDs(ss []session.Session) []string {
	ids := make([]string, len(ss))
	for i, v := range ss {
		ids[i] = v.ID
	}
	return ids
}

// sameSessions compares sets of session ids.
func sameSessions(t *testing.T, what string, got, want []string) {
	t.Helper()
	sameIDs(t, what, slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)))
}

// testSessions: a session is stored whole; using it slides its idle expiry
// (never past the absolute one) and records applications once each;
// renewing replaces how it signed in; an ended or expired session can be
// neither used nor renewed, and is listed no more.
func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	_, err := s.GetSession(ctx, "nope")
	wantErr(t, "an unknown session", err, latchkey.ErrNotFound)
	wantErr(t, "using an unknown session", s.UseSession(ctx, "nope", "app", now, true), latchkey.ErrNotFound)

	a := addSession(t, s, r, "alice", "laptop")
	got, err := s.GetSession(ctx, a.ID)
	must(t, err)
	equal(t, "session", got, a)
	if !got.Live(now) || got.Live(now.Add(time.Hour+time.Microsecond)) {
		t.Errorf("Live: a session is live until its idle expiry")
	}
	wantErr(t, "a second session with the same id", s.CreateSession(ctx, a), latchkey.ErrDuplicate)

	// Used after 30 minutes for app1, then app2, then app1 again.
	t1 := now.Add(30 * time.Minute)
	must(t, s.UseSession(ctx, a.ID, "app1", t1, true))
	must(t, s.UseSession(ctx, a.ID, "app2", t1, true))
	must(t, s.UseSession(ctx, a.ID, "app1", t1.Add(time.Second), true))
	must(t, s.UseSession(ctx, a.ID, "", t1.Add(time.Minute), true)) // a touch records no application
	got, _ = s.GetSession(ctx, a.ID)
	equal(t, "applications", got.Applications, []string{"app1", "app2"})
	equal(t, "last seen", got.LastSeenTime, t1.Add(time.Minute))
	equal(t, "idle expiry after use", got.IdleExpireTime, t1.Add(time.Minute+time.Hour))
	// Near the absolute expiry the idle one stops there.
	must(t, s.UseSession(ctx, a.ID, "", now.Add(80*time.Minute), true))
	late := now.Add(2*time.Hour + 15*time.Minute)
	must(t, s.UseSession(ctx, a.ID, "", late, true))
	got, _ = s.GetSession(ctx, a.ID)
	equal(t, "idle expiry capped", got.IdleExpireTime, a.AbsoluteExpireTime)
	wantErr(t, "using it after its absolute expiry", s.UseSession(ctx, a.ID, "app3", a.AbsoluteExpireTime.Add(time.Second), true),
		latchkey.ErrNotFound)

	// Renewed: a new sign-in of the same identity with another passkey.
	b := addSession(t, s, r, "alice", "laptop")
	renewed := b
	renewed.CredentialID, renewed.AuthTime, renewed.AMR = "phone", now.Add(time.Minute), []string{"pop"}
	renewed.LastSeenTime, renewed.IdleExpireTime = now.Add(time.Minute), now.Add(time.Minute+time.Hour)
	renewed.AbsoluteExpireTime = now.Add(time.Minute + 3*time.Hour)
	must(t, s.RenewSession(ctx, renewed))
	got, _ = s.GetSession(ctx, b.ID)
	equal(t, "renewed session", got, renewed)
	expired := renewed
	expired.LastSeenTime = renewed.AbsoluteExpireTime.Add(time.Second)
	wantErr(t, "renewing an expired session", s.RenewSession(ctx, expired), latchkey.ErrNotFound)

	// Used without a touch: the application is recorded, the times stay.
	must(t, s.UseSession(ctx, b.ID, "app3", now.Add(2*time.Minute), false))
	must(t, s.UseSession(ctx, b.ID, "", now.Add(2*time.Minute), false))
	got, _ = s.GetSession(ctx, b.ID)
	equal(t, "applications after a use without a touch", got.Applications, []string{"app3"})
	equal(t, "last seen after a use without a touch", got.LastSeenTime, renewed.LastSeenTime)
	equal(t, "idle expiry after a use without a touch", got.IdleExpireTime, renewed.IdleExpireTime)
	wantErr(t, "using an expired session without a touch",
		s.UseSession(ctx, b.ID, "app4", renewed.IdleExpireTime.Add(time.Second), false), latchkey.ErrNotFound)
	wantErr(t, "checking an expired session", s.UseSession(ctx, b.ID, "", renewed.IdleExpireTime.Add(time.Second), false),
		latchkey.ErrNotFound)

	// Listed: alice's live sessions of the realm, newest first.
	other := addRealm(t, s, r.TenantID, "Other")
	addSession(t, s, other, "alice", "laptop")
	c := addSession(t, s, r, "alice", "laptop")
	c.CreateTime = now.Add(time.Second)
	c.ID = latchkey.RandomString(32)
	must(t, s.CreateSession(ctx, c))
	list, err := s.ListSessions(ctx, r.ID, "alice", now.Add(time.Minute))
	must(t, err)
	if len(list) != 4 || list[0].ID != c.ID {
		t.Fatalf("ListSessions = %v, want 4 sessions, %s first", sessionIDs(list), c.ID)
	}
	equal(t, "a listed session's applications", list[slices.Index(sessionIDs(list), a.ID)].Applications, []string{"app1", "app2"})
	list, _ = s.ListSessions(ctx, r.ID, "alice", now.Add(2*time.Hour))
	sameIDs(t, "sessions live after two hours", sessionIDs(list), []string{a.ID}) // the only one used since

	// Ended: no longer usable, renewable or listed.
	ended, err := s.EndSessions(ctx, session.End{At: now.Add(time.Minute), Reason: session.ReasonSignedOut, IDs: []string{a.ID}})
	must(t, err)
	if len(ended) != 1 || ended[0].EndReason != session.ReasonSignedOut || !ended[0].EndTime.Equal(now.Add(time.Minute)) {
		t.Fatalf("EndSessions = %+v, want a's end", ended)
	}
	equal(t, "an ended session's applications", ended[0].Applications, []string{"app1", "app2"})
	wantErr(t, "using an ended session", s.UseSession(ctx, a.ID, "app1", now.Add(time.Minute), true), latchkey.ErrNotFound)
	wantErr(t, "using an ended session without a touch", s.UseSession(ctx, a.ID, "app9", now.Add(time.Minute), false),
		latchkey.ErrNotFound)
	got, err = s.GetSession(ctx, a.ID)
	must(t, err)
	if got.Live(now) || got.EndReason != session.ReasonSignedOut || !slices.Equal(got.Applications, []string{"app1", "app2"}) {
		t.Errorf("an ended session reads as %+v", got)
	}
	ended, err = s.EndSessions(ctx, session.End{At: now.Add(2 * time.Minute), Reason: session.ReasonSignedOut, IDs: []string{a.ID}})
	must(t, err)
	equal(t, "ending an ended session again", len(ended), 0)
	_, err = s.EndSessions(ctx, session.End{At: now, Reason: session.ReasonSignedOut})
	if err == nil {
		t.Errorf("an End that selects nothing was accepted")
	}
}

// testEndSessions: every selector ends exactly its sessions and returns
// them with their applications; the expiry sweep ends the idle and the
// too old; ended sessions are deleted after their end.
func testEndSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	at := now.Add(time.Minute)
	end := func(e session.End) []string {
		t.Helper()
		e.At = at
		ended, err := s.EndSessions(ctx, e)
		must(t, err)
		for _, v := range ended {
			if v.EndReason != e.Reason || !v.EndTime.Equal(at) {
				t.Errorf("ended session %s: reason %q at %v, want %q at %v", v.ID, v.EndReason, v.EndTime, e.Reason, at)
			}
		}
		return sessionIDs(ended)
	}
	alice1 := addSession(t, s, r, "alice", "laptop")
	alice2 := addSession(t, s, r, "alice", "phone")
	bob := addSession(t, s, r, "bob", "key")
	carol := addSession(t, s, r, "carol", "carol-key")
	dave := addSession(t, s, r, "dave", "dave-key")
	must(t, s.UseSession(ctx, alice2.ID, "app", now, true))

	sameSessions(t, "ended with the passkey", end(session.End{Reason: session.ReasonPasskeyRevoked, CredentialID: "phone"}),
		[]string{alice2.ID})
	sameSessions(t, "ended with the identities", end(session.End{Reason: session.ReasonIdentitySuspended,
		IdentityIDs: []string{"alice", "bob", "nobody"}}), []string{alice1.ID, bob.ID})
	sameSessions(t, "ended by id", end(session.End{Reason: session.ReasonSignedOut, IDs: []string{carol.ID}}), []string{carol.ID})

	// Expiry: idle and absolute.
	idle := newSession(r, "erin", "erin-key")
	idle.IdleExpireTime = now.Add(-time.Second)
	must(t, s.CreateSession(ctx, idle))
	old := newSession(r, "frank", "frank-key")
	old.AbsoluteExpireTime = now.Add(-time.Second)
	must(t, s.CreateSession(ctx, old))
	sameSessions(t, "ended by expiry", end(session.End{Reason: session.ReasonExpired, Expired: true}), []string{idle.ID, old.ID})
	got, _ := s.GetSession(ctx, dave.ID)
	if !got.Live(at) {
		t.Errorf("dave's session was ended by others' endings")
	}

	n, err := s.DeleteEndedSessions(ctx, at)
	must(t, err)
	equal(t, "deleted before the end", n, 0)
	n, err = s.DeleteEndedSessions(ctx, at.Add(time.Microsecond))
	must(t, err)
	equal(t, "deleted after the end", n, 6)
	_, err = s.GetSession(ctx, alice2.ID)
	wantErr(t, "a deleted session", err, latchkey.ErrNotFound)
	_, err = s.GetSession(ctx, dave.ID)
	must(t, err)

	// Ending inside a transaction that is rolled back ends nothing.
	rollback := errors.New("rollback")
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.EndSessions(ctx, session.End{At: at, Reason: session.ReasonIdentityDeleted, IdentityIDs: []string{"dave"}}); err != nil {
			return err
		}
		return rollback
	})
	wantErr(t, "the rolled-back update", err, rollback)
	got, _ = s.GetSession(ctx, dave.ID)
	if !got.Live(at) {
		t.Errorf("a rolled-back ending ended the session")
	}

	// Many identities at once (batches).
	var ids []string
	for i := range 1200 {
		ids = append(ids, "many"+latchkey.RandomString(8))
		if i%300 == 0 {
			addSession(t, s, r, ids[i], "k")
		}
	}
	equal(t, "ended among 1,200 identities", len(end(session.End{Reason: session.ReasonIdentityDeleted, IdentityIDs: ids})), 4)
}

// testSessionUsedWhileEnded: a use that races the session's end either
// is returned with the ended session's applications or fails; never is an
// application recorded on a session after the ending that returned it.
func testSessionUsedWhileEnded(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	for range 20 {
		v := addSession(t, s, r, "alice", "laptop")
		var wg sync.WaitGroup
		var used error
		var ended []session.Session
		wg.Go(func() { used = s.UseSession(ctx, v.ID, "app", now, true) })
		wg.Go(func() {
			var err error
			ended, err = s.EndSessions(ctx, session.End{At: now, Reason: session.ReasonSignedOut, IDs: []string{v.ID}})
			if err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		if len(ended) != 1 {
			t.Fatalf("the ending returned %d sessions", len(ended))
		}
		got, _ := s.GetSession(ctx, v.ID)
		if used == nil && len(ended[0].Applications) != 1 {
			t.Fatalf("a use that succeeded (%v) is missing from the ended session's applications %v (stored: %v)",
				used, ended[0].Applications, got.Applications)
		}
		if used != nil && !errors.Is(used, latchkey.ErrNotFound) {
			t.Fatal(used)
		}
	}
}

// testSessionSettings: a realm's lifetimes are zero (the defaults) until set.
func testSessionSettings(t *testing.T, s store.Store) {
	r := newRealm(t, s)
	got, err := s.SessionSettings(t.Context(), r.TenantID, r.ID)
	must(t, err)
	equal(t, "a new realm's settings", got, session.Settings{})
	_, err = s.SessionSettings(t.Context(), "other-tenant", r.ID)
	wantErr(t, "another tenant's realm", err, latchkey.ErrNotFound)
}

// testSessionWithIdentity: single sign-on reads a session with its
// identity in one statement; a session whose identity is gone is not
// found.
func testSessionWithIdentity(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRealm(t, s)
	alice := addIdentity(t, s, r, "alice")
	v := addSession(t, s, r, alice.ID, "laptop")
	must(t, s.UseSession(ctx, v.ID, "app1", now, false))
	v.Applications = []string{"app1"}
	got, identity, err := s.GetSessionWithIdentity(ctx, v.ID)
	must(t, err)
	equal(t, "session", got, v)
	equal(t, "its identity", identity, alice)

	_, _, err = s.GetSessionWithIdentity(ctx, "nope")
	wantErr(t, "an unknown session", err, latchkey.ErrNotFound)
	orphan := addSession(t, s, r, "no-such-identity", "laptop")
	_, _, err = s.GetSessionWithIdentity(ctx, orphan.ID)
	wantErr(t, "a session of a missing identity", err, latchkey.ErrNotFound)
	_, err = s.DeleteIdentities(ctx, r.ID, []string{alice.ID})
	must(t, err)
	_, _, err = s.GetSessionWithIdentity(ctx, v.ID)
	wantErr(t, "a session of a deleted identity", err, latchkey.ErrNotFound)
}
