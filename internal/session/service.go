package session

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/secretbox"
)

// Service starts sessions, finds them by their cookie and sweeps the
// expired ones.
type Service struct {
	store Store
	box   *secretbox.Box
	// settings are the realms' lifetimes as read in the last nodecache.TTL:
	// a change applies to the sessions that start after, within that time.
	settings nodecache.Cache[Settings]
	Clock    latchkey.Clock
}

// NewService returns a Service whose cookies are sealed with box.
func NewService(st Store, box *secretbox.Box) *Service {
	return &Service{store: st, box: box}
}

// CookieName is the name of the cookie that names a browser's session of
// a realm; each realm's has its own path (CookiePath).
const CookieName = "latchkey_session"

// CookiePath scopes a realm's session cookie to the realm's endpoints.
func CookiePath(tenantID, realmID string) string {
	return "/v1/tenants/" + tenantID + "/realms/" + realmID + "/"
}

// Ended sessions are kept this long (for listing "signed out" and for
// whatever their ending queued), then deleted.
const keepEnded = 24 * time.Hour

// SignIn is what a passkey's sign-in tells of itself.
type SignIn struct {
	TenantID, RealmID, IdentityID, CredentialID string
	AMR                                         []string
	ACR                                         string
	IP, UserAgent                               string
}

// Start records a sign-in as the browser's session and returns it with
// the cookie's value. The browser's current session (current, if not nil
// and live) is renewed when the same identity signed in, keeping its id
// and applications; when another identity signed in it is ended
// (ReasonReplaced) and a new one starts.
func (s *Service) Start(ctx context.Context, in SignIn, current *Session) (Session, string, error) {
	v, cookie, fresh, err := s.Begin(ctx, in, current)
	if err == nil && fresh {
		err = s.Create(ctx, v)
	}
	if err != nil {
		return Session{}, "", err
	}
	return v, cookie, nil
}

// Create stores a session that Begin returned fresh.
func (s *Service) Create(ctx context.Context, v Session) error {
	return s.store.CreateSession(ctx, v)
}

// Begin is Start for a caller that stores a new session with its own
// writes (oauth's approval of the sign-in, in one transaction): when the
// browser has no live session of the realm, the new one is returned
// fresh and not stored yet, and the caller stores it (Create, if its own
// writes store nothing). A renewed or replacing session is stored as
// Start stores it.
func (s *Service) Begin(ctx context.Context, in SignIn, current *Session) (v Session, cookie string, fresh bool, err error) {
	now := s.Clock.Now()
	settings, err := s.settingsOf(ctx, in.TenantID, in.RealmID, now)
	if err != nil {
		return Session{}, "", false, err
	}
	v = Session{ID: latchkey.RandomString(32), TenantID: in.TenantID, RealmID: in.RealmID, IdentityID: in.IdentityID,
		CredentialID: in.CredentialID, AuthTime: now.Truncate(time.Second), AMR: in.AMR, ACR: in.ACR, IP: in.IP,
		UserAgent: in.UserAgent, IdleTimeout: settings.IdleTimeout, CreateTime: now, LastSeenTime: now,
		IdleExpireTime: now.Add(min(settings.IdleTimeout, settings.Lifetime)), AbsoluteExpireTime: now.Add(settings.Lifetime),
		Applications: []string{}}
	if current == nil || current.RealmID != in.RealmID || !current.Live(now) {
		return v, s.seal(v), true, nil
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if current.IdentityID != in.IdentityID {
			if _, err := tx.EndSessions(ctx, End{At: now, Reason: ReasonReplaced, IDs: []string{current.ID}}); err != nil {
				return err
			}
			return tx.CreateSession(ctx, v)
		}
		renewed := v
		renewed.ID, renewed.CreateTime, renewed.Applications = current.ID, current.CreateTime, current.Applications
		err := tx.RenewSession(ctx, renewed)
		if errors.Is(err, latchkey.ErrNotFound) { // ended meanwhile: start anew
			return tx.CreateSession(ctx, v)
		}
		if err == nil {
			v = renewed
		}
		return err
	})
	if err != nil {
		return Session{}, "", false, err
	}
	return v, s.seal(v), false, nil
}

// settingsOf returns a realm's lifetimes, defaults filled in.
func (s *Service) settingsOf(ctx context.Context, tenantID, realmID string, now time.Time) (Settings, error) {
	key := tenantID + "/" + realmID
	if v, ok := s.settings.Get(key, now); ok {
		return v, nil
	}
	v, err := s.store.SessionSettings(ctx, tenantID, realmID)
	if err != nil {
		return Settings{}, err
	}
	v = v.effective()
	s.settings.Put(key, v, now)
	return v, nil
}

// seal is the cookie value of a session: its realm and id, sealed, so a
// cookie can neither be forged nor carried to another realm.
func (s *Service) seal(v Session) string {
	return s.box.Seal([]byte(v.TenantID + "/" + v.RealmID + "/" + v.ID))
}

// Named returns the id of the session of the realm that a cookie's value
// names, without reading it; found is false for no cookie, a cookie not
// sealed by us, and one of another realm.
func (s *Service) Named(tenantID, realmID, cookie string) (id string, found bool) {
	if cookie == "" {
		return "", false
	}
	plain, err := s.box.Open(cookie)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(plain), tenantID+"/"+realmID+"/")
}

// Find returns the live session of the realm that a cookie's value names,
// read from the database (so a session ended on another node is ended
// here too). ok is false for no cookie, a cookie not sealed by us or of
// another realm, and a session ended or expired.
func (s *Service) Find(ctx context.Context, tenantID, realmID, cookie string) (v Session, ok bool, err error) {
	id, found := s.Named(tenantID, realmID, cookie)
	if !found {
		return Session{}, false, nil
	}
	v, err = s.store.GetSession(ctx, id)
	if errors.Is(err, latchkey.ErrNotFound) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	return v, v.Live(s.Clock.Now()), nil
}

// Sweep ends the sessions that expired (so that their ending is handled as
// every other) and deletes those ended more than a day ago; it returns
// how many it ended.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.Clock.Now()
	ended, err := s.store.EndSessions(ctx, End{At: now, Reason: ReasonExpired, Expired: true})
	if err != nil {
		return 0, err
	}
	_, err = s.store.DeleteEndedSessions(ctx, now.Add(-keepEnded))
	return len(ended), err
}
