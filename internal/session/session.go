// Package session owns a realm's sign-in sessions: the record that a
// passkey signed a browser in (who, with which passkey, when, how, from
// where, and the applications it has signed in to since), its idle and
// absolute lifetimes, the sealed cookie that names it, and the one way a
// session ends (Tx.EndSessions: sign-out, suspension or deletion of the
// identity, revocation of its passkey, expiry), which returns the sessions
// it ended with their applications so that what must follow an ending
// (back-channel logout) is done there.
//
// Whether a session may sign in to an application without a new ceremony
// (prompt, max_age, id_token_hint, policy) is decided by oauth, which asks
// this package only for the session.
//
// It must not import HTTP packages, storage engines or other domain
// packages; it describes the storage it needs as Tx and Store.
package session

import (
	"context"
	"time"
)

// Session is one browser's sign-in to a realm.
type Session struct {
	ID           string
	TenantID     string
	RealmID      string
	IdentityID   string
	CredentialID string    // the passkey that signed in
	AuthTime     time.Time // when it signed in (OIDC auth_time)
	AMR          []string  // how (RFC 8176 values)
	ACR          string    // the class of the sign-in
	IP           string
	UserAgent    string
	// IdleTimeout is how long the session lives unused, fixed when it
	// starts from the realm's setting.
	IdleTimeout        time.Duration
	CreateTime         time.Time
	LastSeenTime       time.Time
	IdleExpireTime     time.Time // LastSeenTime + IdleTimeout, never after AbsoluteExpireTime
	AbsoluteExpireTime time.Time
	EndTime            time.Time // zero while it has not ended
	EndReason          string    // one of the Reason constants once it has
	// Applications are the ids of the applications it signed in to, sorted.
	Applications []string
}

// Live reports whether the session may still sign in at t.
func (s Session) Live(t time.Time) bool {
	return s.EndTime.IsZero() && !t.After(s.IdleExpireTime) && !t.After(s.AbsoluteExpireTime)
}

// TouchDue reports whether a use of the session at t moves its idle expiry:
// once it has gone unused for a tenth of its idle timeout, a minute at
// most. The uses between record their applications and write nothing
// else, so a session that signs in many times a minute is written once a
// minute, and it may expire up to that tenth before a full idle timeout
// after its last use.
func (s Session) TouchDue(t time.Time) bool {
	return t.Sub(s.LastSeenTime) >= min(time.Minute, s.IdleTimeout/10)
}

// Why a session ended.
const (
	ReasonSignedOut         = "signed_out"
	ReasonReplaced          = "replaced" // another identity signed in on the browser
	ReasonIdentitySuspended = "identity_suspended"
	ReasonIdentityDeleted   = "identity_deleted"
	ReasonPasskeyRevoked    = "passkey_revoked"
	ReasonExpired           = "expired"
)

// End selects the sessions to end: those not ended yet that are named by
// IDs, or of IdentityIDs, or begun with CredentialID, or (Expired) whose
// idle or absolute lifetime ran out before At. Exactly one selector is set.
type End struct {
	At           time.Time
	Reason       string
	IDs          []string
	IdentityIDs  []string
	CredentialID string
	Expired      bool
}

// Tx reads and writes sessions in one transaction. A missing session is
// latchkey.ErrNotFound.
type Tx interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns a session, ended or not, with its applications.
	GetSession(ctx context.Context, id string) (Session, error)
	// ListSessions returns the sessions of an identity of the realm that are
	// live at t, with their applications, newest first.
	ListSessions(ctx context.Context, realmID, identityID string, t time.Time) ([]Session, error)
	// UseSession marks a session used at t: when touch (see TouchDue), its
	// idle expiry moves to t + IdleTimeout (never past its absolute expiry)
	// and, when applicationID is not "", the application is recorded as
	// signed in to. A session not live at t is latchkey.ErrNotFound.
	UseSession(ctx context.Context, id, applicationID string, t time.Time, touch bool) error
	// RenewSession records that the session's identity signed in again:
	// s's credential, auth time, AMR, ACR, IP, user agent, last-seen and
	// expiry times replace the stored ones. A session not live at
	// s.LastSeenTime is latchkey.ErrNotFound.
	RenewSession(ctx context.Context, s Session) error
	// EndSessions ends the sessions e selects, at e.At for e.Reason, and
	// returns them as ended, with their applications. Every ending of a
	// session goes through it.
	EndSessions(ctx context.Context, e End) ([]Session, error)
	// DeleteEndedSessions removes the sessions that ended before t.
	DeleteEndedSessions(ctx context.Context, t time.Time) (int, error)
	// SessionSettings returns the realm's session lifetimes as set (zero
	// where the realm keeps the default).
	SessionSettings(ctx context.Context, tenantID, realmID string) (Settings, error)
}

// Store is the session storage: Tx methods run on their own; Update runs
// fn in one read-write transaction.
type Store interface {
	Tx
	Update(ctx context.Context, fn func(Tx) error) error
}

// Settings are a realm's session lifetimes; zero means the default.
type Settings struct {
	IdleTimeout time.Duration
	Lifetime    time.Duration
}

// Default lifetimes: a session unused for two hours, or twelve hours after
// its passkey signed in, needs the passkey again.
const (
	DefaultIdleTimeout = 2 * time.Hour
	DefaultLifetime    = 12 * time.Hour
)

// effective returns the lifetimes with defaults for those unset.
func (s Settings) effective() Settings {
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = DefaultIdleTimeout
	}
	if s.Lifetime <= 0 {
		s.Lifetime = DefaultLifetime
	}
	return s
}
