package oauth

import (
	"context"
	"errors"

	"github.com/latchkey/latchkey"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// The management of an identity's sign-in sessions: list them, end one, or
// end them all ("sign out everywhere"). An ending goes through
// Tx.EndSessions like every other, so the applications they signed in to
// get their back-channel logout.

func identityNotFound(id string) error {
	return latchkey.NotFound("Identity", id, "identity not found")
}

func sessionNotFound(id string) error { return latchkey.NotFound("Session", id, "session not found") }

// identityOf checks that an identity is one of the tenant's realm.
func identityOf(ctx context.Context, tx Tx, tenantID, realmID, id string) error {
	i, err := tx.GetIdentity(ctx, realmID, id)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && i.TenantID != tenantID) {
		return identityNotFound(id)
	}
	return err
}

// ListIdentitySessions returns an identity's live sessions, newest first,
// with the applications each signed in to.
func (s *Service) ListIdentitySessions(ctx context.Context, tenantID, realmID, identityID string) ([]sessions.Session, error) {
	if err := identityOf(ctx, s.store, tenantID, realmID, identityID); err != nil {
		return nil, err
	}
	return s.store.ListSessions(ctx, realmID, identityID, s.Clock.Now())
}

// EndIdentitySession ends one live session of an identity.
func (s *Service) EndIdentitySession(ctx context.Context, tenantID, realmID, identityID, sessionID string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := identityOf(ctx, tx, tenantID, realmID, identityID); err != nil {
			return err
		}
		v, err := tx.GetSession(ctx, sessionID)
		if errors.Is(err, latchkey.ErrNotFound) || (err == nil && (v.TenantID != tenantID || v.RealmID != realmID ||
			v.IdentityID != identityID || !v.Live(s.Clock.Now()))) {
			return sessionNotFound(sessionID)
		}
		if err != nil {
			return err
		}
		// The ending records its session.ended event (SessionsEnded).
		_, err = tx.EndSessions(ctx, sessions.End{At: s.Clock.Now(), Reason: sessions.ReasonSignedOut, IDs: []string{sessionID}})
		return err
	})
}

// EndIdentitySessions ends every session of an identity and returns those
// it ended.
func (s *Service) EndIdentitySessions(ctx context.Context, tenantID, realmID, identityID string) (ended []sessions.Session, err error) {
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := identityOf(ctx, tx, tenantID, realmID, identityID); err != nil {
			return err
		}
		ended, err = tx.EndSessions(ctx, sessions.End{At: s.Clock.Now(), Reason: sessions.ReasonSignedOut, IdentityIDs: []string{identityID}})
		if err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "identity.end_sessions", "Identity", identityID)
	})
	return ended, err
}
