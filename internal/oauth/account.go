package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// The sign-in of a realm's account page, where people manage their own
// passkeys: a passkey signs a challenge as for an application, but no
// application, no policy and no code are involved; it starts the
// browser's session of the realm. Its request is an AuthRequest of no
// application (ApplicationID ""), finished once.

// StartAccountSignIn starts a sign-in to the realm's account page.
func (s *Service) StartAccountSignIn(ctx context.Context, tenantID, realmID string) (AuthRequest, error) {
	if _, err := s.store.GetRealm(ctx, tenantID, realmID); err != nil {
		return AuthRequest{}, latchkey.IfNotFound(err, directory.RealmNotFound, realmID)
	}
	t := s.Clock.Now()
	req := AuthRequest{ID: latchkey.RandomString(32), TenantID: tenantID, RealmID: realmID,
		Challenge: base64.RawURLEncoding.EncodeToString([]byte(latchkey.RandomString(32))), CreateTime: t, ExpireTime: t.Add(authRequestTTL)}
	return req, s.store.SaveAuthRequest(ctx, req, nil)
}

// FinishAccountSignIn spends a pending account page sign-in (req as
// PendingAuthRequest returned it) for the identity whose passkey signed
// it: of two attempts with one request, one finishes.
func (s *Service) FinishAccountSignIn(ctx context.Context, req AuthRequest, identity directory.Identity, credentialID string) error {
	at := s.Clock.Now()
	fin := req
	fin.IdentityID, fin.CredentialID, fin.AuthTime = identity.ID, credentialID, at.UTC().Truncate(time.Second)
	allowed := s.signInEvent(ctx, audit.SignInAllowed, req.TenantID, req.RealmID, "", req.ID, &identity, credentialID)
	err := s.store.Update(ctx, func(tx Tx) error {
		if err := tx.FinishAuthRequest(ctx, fin, at); err != nil {
			return err
		}
		return tx.RecordEvent(ctx, allowed)
	})
	if errors.Is(err, latchkey.ErrNotFound) {
		return errFinished
	}
	return err
}

// SessionIdentity is the identity that a live session of the realm signed
// in (whose account page it shows, for which it continues a sign-in): an
// identity suspended or deleted meanwhile is ErrSessionEnded.
func (s *Service) SessionIdentity(ctx context.Context, ss sessions.Session) (directory.Identity, error) {
	i, err := s.store.GetIdentity(ctx, ss.RealmID, ss.IdentityID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && (!i.Active() || i.TenantID != ss.TenantID)) {
		return i, ErrSessionEnded
	}
	return i, err
}
