package session_test

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

type fixture struct {
	st    *sqlstore.Store
	svc   *session.Service
	clock *testenv.Clock
	realm directory.Realm
}

func newFixture(t *testing.T, open func(testing.TB) *sqlstore.Store) fixture {
	t.Helper()
	st := open(t)
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{st: st, svc: session.NewService(st.Session(), box), clock: testenv.NewClock()}
	f.svc.Clock = f.clock.Now
	f.realm = f.addRealm(t)
	return f
}

func (f fixture) addRealm(t *testing.T) directory.Realm {
	t.Helper()
	now := f.clock.Now()
	tenant := directory.Tenant{ID: latchkey.NewID(), DisplayName: "T", CreateTime: now, UpdateTime: now}
	if err := f.st.CreateTenant(t.Context(), tenant); err != nil {
		t.Fatal(err)
	}
	r := directory.Realm{ID: latchkey.NewID(), TenantID: tenant.ID, DisplayName: "R " + latchkey.RandomString(6),
		Classification: directory.SecureCustomer, CreateTime: now, UpdateTime: now}
	if err := f.st.CreateRealm(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f fixture) signIn(identity string) session.SignIn {
	return session.SignIn{TenantID: f.realm.TenantID, RealmID: f.realm.ID, IdentityID: identity, CredentialID: identity + "-key",
		AMR: []string{"pop", "mfa"}, ACR: "phr", IP: "192.0.2.7", UserAgent: "Test"}
}

// start starts (or renews, over current) the session of in, and returns it
// with its cookie.
func (f fixture) start(t *testing.T, in session.SignIn, current *session.Session) (session.Session, string) {
	t.Helper()
	v, cookie, err := f.svc.Start(t.Context(), in, current)
	if err != nil {
		t.Fatal(err)
	}
	return v, cookie
}

func (f fixture) find(t *testing.T, cookie string) (session.Session, bool) {
	t.Helper()
	v, ok, err := f.svc.Find(t.Context(), f.realm.TenantID, f.realm.ID, cookie)
	if err != nil {
		t.Fatal(err)
	}
	return v, ok
}

// TestLifetimes: a session lives the default two hours unused and twelve
// in all; use slides the idle expiry; a realm's settings replace the
// defaults for the sessions that start after.
func TestLifetimes(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newFixture(t, eng.Open)
			ctx := t.Context()
			v, cookie := f.start(t, f.signIn("ada"), nil)
			if !v.IdleExpireTime.Equal(v.CreateTime.Add(session.DefaultIdleTimeout)) || !v.AbsoluteExpireTime.Equal(v.CreateTime.Add(session.DefaultLifetime)) {
				t.Errorf("a new session expires at %v (idle) and %v, want the defaults after %v", v.IdleExpireTime, v.AbsoluteExpireTime, v.CreateTime)
			}
			if got, ok := f.find(t, cookie); !ok || got.ID != v.ID || got.IP != "192.0.2.7" || strings.Join(got.AMR, " ") != "pop mfa" {
				t.Fatalf("Find = %+v, %v", got, ok)
			}
			f.clock.Advance(session.DefaultIdleTimeout)
			if _, ok := f.find(t, cookie); !ok {
				t.Error("a session at the last instant of its idle time is gone")
			}
			// Used then: another idle period, up to the absolute expiry.
			if err := f.st.UseSession(ctx, v.ID, "app", f.clock.Now(), true); err != nil {
				t.Fatal(err)
			}
			for f.clock.Now().Before(v.AbsoluteExpireTime.Add(-time.Hour)) {
				f.clock.Advance(time.Hour)
				if err := f.st.UseSession(ctx, v.ID, "", f.clock.Now(), true); err != nil {
					t.Fatalf("a session used every hour, at %v: %v", f.clock.Now().Sub(v.CreateTime), err)
				}
			}
			f.clock.Advance(v.AbsoluteExpireTime.Sub(f.clock.Now()) + time.Microsecond)
			if _, ok := f.find(t, cookie); ok {
				t.Error("a session used all along outlived its absolute lifetime")
			}

			idle, lifetime := 600, 3600
			f.realm.SessionIdleTimeout, f.realm.SessionLifetime = idle, lifetime
			if err := f.st.UpdateRealm(ctx, f.realm); err != nil {
				t.Fatal(err)
			}
			v, cookie = f.start(t, f.signIn("ada"), nil)
			if v.IdleTimeout != 10*time.Minute || !v.AbsoluteExpireTime.Equal(v.CreateTime.Add(time.Hour)) {
				t.Errorf("with the realm's settings: idle %v, absolute expiry after %v", v.IdleTimeout, v.AbsoluteExpireTime.Sub(v.CreateTime))
			}
			f.clock.Advance(10*time.Minute + time.Microsecond)
			if _, ok := f.find(t, cookie); ok {
				t.Error("a session outlived the realm's idle timeout")
			}
		})
	}
}

// TestCookie: only a cookie this service sealed, for this realm, finds a
// session, and only while it is live.
func TestCookie(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newFixture(t, eng.Open)
			ctx := t.Context()
			v, cookie := f.start(t, f.signIn("ada"), nil)
			if strings.Contains(cookie, v.ID) {
				t.Error("the cookie shows the session id")
			}
			otherBox, _ := secretbox.New(secretbox.NewKey())
			forged := otherBox.Seal([]byte(f.realm.TenantID + "/" + f.realm.ID + "/" + v.ID))
			for what, c := range map[string]string{"no cookie": "", "garbage": "x", "sealed with another key": forged,
				"tampered": cookie[:len(cookie)-4] + "AAAA"} {
				if _, ok := f.find(t, c); ok {
					t.Errorf("%s found a session", what)
				}
			}
			other := f.addRealm(t)
			if _, ok, _ := f.svc.Find(ctx, other.TenantID, other.ID, cookie); ok {
				t.Error("a realm's cookie found its session in another realm")
			}
			if _, err := f.st.EndSessions(ctx, session.End{At: f.clock.Now(), Reason: session.ReasonSignedOut, IDs: []string{v.ID}}); err != nil {
				t.Fatal(err)
			}
			if _, ok := f.find(t, cookie); ok {
				t.Error("an ended session was found")
			}
		})
	}
}

// TestStartAgain: signing in again as the same identity renews the session
// (same id, applications kept, new auth time and passkey); as another
// identity it ends the session and starts one.
func TestStartAgain(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newFixture(t, eng.Open)
			ctx := t.Context()
			first, _ := f.start(t, f.signIn("ada"), nil)
			if err := f.st.UseSession(ctx, first.ID, "wiki", f.clock.Now(), true); err != nil {
				t.Fatal(err)
			}
			first, _ = f.st.GetSession(ctx, first.ID)
			f.clock.Advance(time.Hour)
			again := f.signIn("ada")
			again.CredentialID = "ada-phone"
			renewed, cookie := f.start(t, again, &first)
			got, ok := f.find(t, cookie)
			if !ok || got.ID != first.ID || got.CredentialID != "ada-phone" || !got.AuthTime.After(first.AuthTime) ||
				strings.Join(got.Applications, ",") != "wiki" || !got.CreateTime.Equal(first.CreateTime) {
				t.Errorf("renewed session %+v, was %+v", got, first)
			}
			if renewed.AbsoluteExpireTime.Sub(renewed.LastSeenTime) != session.DefaultLifetime || !renewed.LastSeenTime.After(first.CreateTime) {
				t.Errorf("a renewed session's absolute expiry %v does not restart at its new sign-in", renewed.AbsoluteExpireTime)
			}

			bea, beaCookie := f.start(t, f.signIn("bea"), &renewed)
			if bea.ID == renewed.ID {
				t.Fatal("another identity's sign-in took over the session")
			}
			old, _ := f.st.GetSession(ctx, renewed.ID)
			if old.EndReason != session.ReasonReplaced {
				t.Errorf("the replaced session: %+v", old)
			}
			if got, ok := f.find(t, beaCookie); !ok || got.IdentityID != "bea" {
				t.Errorf("bea's session: %+v %v", got, ok)
			}
		})
	}
}

// TestBegin: a new session that Begin returns is fresh and not stored
// until its caller stores it (Create); one that renews or replaces the
// browser's live session is stored as Start stores it.
func TestBegin(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newFixture(t, eng.Open)
			ctx := t.Context()
			v, cookie, fresh, err := f.svc.Begin(ctx, f.signIn("ada"), nil)
			if err != nil || !fresh {
				t.Fatalf("a first session: fresh %v, %v", fresh, err)
			}
			if _, ok := f.find(t, cookie); ok {
				t.Fatal("a fresh session was stored before its caller stored it")
			}
			if err := f.svc.Create(ctx, v); err != nil {
				t.Fatal(err)
			}
			if got, ok := f.find(t, cookie); !ok || got.ID != v.ID {
				t.Fatalf("the session stored: %+v %v", got, ok)
			}
			for _, who := range []string{"ada", "bea"} { // renewed, then replaced
				current, _ := f.find(t, cookie)
				var err error
				if v, cookie, fresh, err = f.svc.Begin(ctx, f.signIn(who), &current); err != nil || fresh {
					t.Fatalf("%s over a live session: fresh %v, %v", who, fresh, err)
				}
				if got, ok := f.find(t, cookie); !ok || got.IdentityID != who {
					t.Errorf("%s over a live session: stored %+v %v", who, got, ok)
				}
			}
		})
	}
}

// TestSweep: the sweep ends the expired sessions (with the reason
// "expired"), leaves the live ones, and deletes the ended a day later.
func TestSweep(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			f := newFixture(t, eng.Open)
			ctx := t.Context()
			old, _ := f.start(t, f.signIn("ada"), nil)
			f.clock.Advance(time.Hour)
			fresh, _ := f.start(t, f.signIn("bea"), nil)
			f.clock.Advance(time.Hour + time.Second)
			n, err := f.svc.Sweep(ctx)
			if err != nil || n != 1 {
				t.Fatalf("Sweep = %d, %v; want 1 ended", n, err)
			}
			if v, _ := f.st.GetSession(ctx, old.ID); v.EndReason != session.ReasonExpired {
				t.Errorf("the expired session: %+v", v)
			}
			if v, _ := f.st.GetSession(ctx, fresh.ID); !v.Live(f.clock.Now()) {
				t.Errorf("the live session: %+v", v)
			}
			f.clock.Advance(25 * time.Hour)
			if n, err := f.svc.Sweep(ctx); err != nil || n != 1 {
				t.Fatalf("second Sweep = %d, %v; want bea's ended", n, err)
			}
			if _, err := f.st.GetSession(ctx, old.ID); err == nil {
				t.Error("a session ended over a day ago was kept")
			}
		})
	}
}

// TestTouchDue: a use moves a session's idle expiry once it has gone
// unused for a tenth of its idle timeout, a minute at most.
func TestTouchDue(t *testing.T) {
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		idle, after time.Duration
		want        bool
	}{
		{2 * time.Hour, 59 * time.Second, false},
		{2 * time.Hour, time.Minute, true},
		{5 * time.Minute, 29 * time.Second, false},
		{5 * time.Minute, 30 * time.Second, true},
		{time.Minute, 6 * time.Second, true},
	} {
		v := session.Session{IdleTimeout: c.idle, LastSeenTime: seen}
		if got := v.TouchDue(seen.Add(c.after)); got != c.want {
			t.Errorf("idle timeout %v, used %v after the last touch: TouchDue = %v, want %v", c.idle, c.after, got, c.want)
		}
	}
}
