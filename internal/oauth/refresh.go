package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// RefreshToken is the record of a refresh token; the token itself is kept
// only as a hash.
type RefreshToken struct {
	Hash          string
	FamilyID      string
	TenantID      string
	RealmID       string
	ApplicationID string
	IdentityID    string
	Scope         string
	AuthTime      time.Time
	Used          bool
	CreateTime    time.Time
	ExpireTime    time.Time
	// Deadline is when every refresh token of the family expires, the
	// application's absolute lifetime after its code was redeemed (zero:
	// no such bound); a rotated token inherits it.
	Deadline time.Time
	// How the sign-in happened, for the ID tokens that refreshes issue:
	// the browser's session ("" for none), amr and acr.
	SessionID string
	AMR       []string
	ACR       string
}

// RefreshTokenTTL is how long a refresh token may be used by default; with
// rotation each use gives a new one.
const RefreshTokenTTL = 30 * 24 * time.Hour

// Refresh token rotation types.
const (
	Rotating    = "rotating"
	NonRotating = "non_rotating"
)

// lifetime is how long a refresh token may be used.
func (c RefreshTokenConfiguration) lifetime() time.Duration {
	if c.ExpiresAfter <= 0 { // stored before the setting existed
		return RefreshTokenTTL
	}
	return time.Duration(c.ExpiresAfter) * time.Second
}

// deadline is when the refresh tokens of a family that starts at now stop
// working: zero for no absolute lifetime.
func (c RefreshTokenConfiguration) deadline(now time.Time) time.Time {
	if c.AbsoluteLifetime <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(c.AbsoluteLifetime) * time.Second)
}

func newRefreshToken(app Application, i directory.Identity, ss session, now time.Time) (string, RefreshToken) {
	token := latchkey.RandomString(48)
	expiry := now.Add(app.ProtocolConfig.RefreshTokenConfiguration.lifetime())
	if !ss.refreshDeadline.IsZero() && ss.refreshDeadline.Before(expiry) {
		expiry = ss.refreshDeadline
	}
	return token, RefreshToken{Hash: hashCode(token), FamilyID: ss.family,
		TenantID: app.TenantID, RealmID: app.RealmID, ApplicationID: app.ID, IdentityID: i.ID, Scope: ss.scope,
		AuthTime: ss.authTime, CreateTime: now, ExpireTime: expiry, Deadline: ss.refreshDeadline,
		SessionID: ss.sid, AMR: ss.amr, ACR: ss.acr}
}

var errBadRefresh = &Error{"invalid_grant", "the refresh token is invalid, expired or revoked"}

var errFamilyRevoked = &Error{"invalid_grant", "the refresh token was already used; its sign-in is revoked"}

// refresh issues tokens for the same sign-in if the identity may still use
// the application. A rotating application's refresh token is spent and a
// new one answered; a spent token used again revokes its whole family
// (RFC 9700 §4.14.2). A non-rotating application's token is answered again
// and works until it expires. A request refused before the token is spent
// (a scope it was not granted) leaves it usable.
func (s *Service) refresh(ctx context.Context, app client, req TokenRequest, custom json.RawMessage) (TokenResponse, error) {
	rt, err := s.store.GetRefreshToken(ctx, hashCode(req.RefreshToken))
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && rt.ApplicationID != app.ID) {
		return TokenResponse{}, errBadRefresh
	}
	if err != nil {
		return TokenResponse{}, err
	}
	if rt.Used {
		return TokenResponse{}, s.revokeReused(ctx, rt)
	}
	if s.Clock.Now().After(rt.ExpireTime) {
		return TokenResponse{}, errBadRefresh
	}
	scope, err := narrowedScope(rt.Scope, req.Scope)
	if err != nil {
		return TokenResponse{}, err
	}
	ss := session{scope: scope, authTime: rt.AuthTime, family: rt.FamilyID, custom: custom, refreshDeadline: rt.Deadline,
		sid: rt.SessionID, amr: rt.AMR, acr: rt.ACR}
	if app.ProtocolConfig.RefreshTokenConfiguration.RotationType == NonRotating {
		ss.reuse, ss.reuseRaw = &rt, req.RefreshToken
	} else if err := s.store.UseRefreshToken(ctx, rt.Hash); errors.Is(err, latchkey.ErrNotFound) {
		return TokenResponse{}, s.revokeReused(ctx, rt) // spent concurrently
	} else if err != nil {
		return TokenResponse{}, err
	}
	i, err := s.store.GetIdentity(ctx, rt.RealmID, rt.IdentityID)
	if err != nil || !i.Active() {
		return TokenResponse{}, &Error{"invalid_grant", "the identity cannot sign in"}
	}
	var denied *Denied
	if err := s.allowed(ctx, i, app.ID); errors.As(err, &denied) {
		return TokenResponse{}, &Error{"invalid_grant", denied.Error()}
	} else if err != nil {
		return TokenResponse{}, err
	}
	resp, g, err := s.identityTokens(ctx, app, i, ss)
	if err != nil {
		return TokenResponse{}, err
	}
	g.Events = []audit.Event{s.tokenEvent(ctx, audit.TokenRefreshed, "refresh_token", app, i, rt.FamilyID, "")}
	if err := s.saveGrant(ctx, g); errors.Is(err, latchkey.ErrNotFound) { // revoked meanwhile
		return TokenResponse{}, errBadRefresh
	} else if err != nil {
		return TokenResponse{}, err
	}
	return resp, nil
}

// narrowedScope is the scope a refresh asks for: all that was granted, or
// some of it.
func narrowedScope(granted, asked string) (string, error) {
	for _, f := range strings.Fields(asked) {
		if !slices.Contains(strings.Fields(granted), f) {
			return "", &Error{"invalid_scope", "scope " + f + " was not granted to this sign-in"}
		}
	}
	return or(asked, granted), nil
}

// revokeReused answers a refresh token used twice: its family, every token
// of the sign-in, is revoked.
func (s *Service) revokeReused(ctx context.Context, rt RefreshToken) error {
	if err := s.store.RevokeFamily(ctx, rt.FamilyID); err != nil {
		return err
	}
	return errFamilyRevoked
}

// Revoke revokes a refresh token, with every token of its family, or an
// access token of the application (RFC 7009); an unknown token is no error.
func (s *Service) Revoke(ctx context.Context, req TokenRequest, token string) error {
	app, err := s.authenticateClient(ctx, req)
	if err != nil {
		return err
	}
	rt, err := s.store.GetRefreshToken(ctx, hashCode(token))
	if err == nil && rt.ApplicationID == app.ID {
		revoked := s.signInEvent(ctx, audit.TokenRevoked, app.TenantID, app.RealmID, app.ID, rt.FamilyID, nil, "")
		revoked.IdentityID = rt.IdentityID
		return s.store.Update(ctx, func(tx Tx) error {
			if err := tx.RevokeFamily(ctx, rt.FamilyID); err != nil {
				return err
			}
			return tx.RecordEvent(ctx, revoked)
		})
	}
	if err != nil && !errors.Is(err, latchkey.ErrNotFound) {
		return err
	}
	p, err := s.Verify(ctx, token)
	if err != nil {
		return nil
	}
	err = s.store.DeleteToken(ctx, app.ID, p.TokenID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	revoked := s.signInEvent(ctx, audit.TokenRevoked, app.TenantID, app.RealmID, app.ID, "", nil, "")
	revoked.ResourceType, revoked.ResourceID = "Token", p.TokenID
	return s.store.RecordEvent(ctx, revoked)
}
