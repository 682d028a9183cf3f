package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
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
}

// RefreshTokenTTL is how long a refresh token may be used; each use gives a
// new one.
const RefreshTokenTTL = 30 * 24 * time.Hour

// AccessCheck decides whether an identity, as just read, may still use an
// application of its realm; reason says why not. The node sets it to the
// policy's decision. Whether the application still exists is not its
// question: storing the grant answers that (saveGrant).
type AccessCheck func(ctx context.Context, i directory.Identity, applicationID string) (allowed bool, reason string, err error)

func newRefreshToken(app Application, i directory.Identity, ss session) (string, RefreshToken) {
	token := latchkey.RandomString(48)
	family := ss.family
	if family == "" {
		family = latchkey.RandomString(24)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	return token, RefreshToken{Hash: hashCode(token), FamilyID: family,
		TenantID: app.TenantID, RealmID: app.RealmID, ApplicationID: app.ID, IdentityID: i.ID, Scope: ss.scope,
		AuthTime: ss.authTime, CreateTime: now, ExpireTime: now.Add(RefreshTokenTTL)}
}

var errBadRefresh = &Error{"invalid_grant", "the refresh token is invalid, expired or revoked"}

// refresh rotates a refresh token: the old one is spent, and tokens for the
// same sign-in are issued if the identity may still use the application.
// A spent token used again revokes its whole family (RFC 9700 §4.14.2).
func (s *Service) refresh(ctx context.Context, app client, req TokenRequest, custom json.RawMessage) (TokenResponse, error) {
	rt, err := s.store.GetRefreshToken(ctx, hashCode(req.RefreshToken))
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && rt.ApplicationID != app.ID) {
		return TokenResponse{}, errBadRefresh
	}
	if err != nil {
		return TokenResponse{}, err
	}
	reused := rt.Used
	if !reused {
		if err := s.store.UseRefreshToken(ctx, rt.Hash); errors.Is(err, latchkey.ErrNotFound) {
			reused = true // spent concurrently
		} else if err != nil {
			return TokenResponse{}, err
		}
	}
	if reused {
		if err := s.store.RevokeRefreshFamily(ctx, rt.FamilyID); err != nil {
			return TokenResponse{}, err
		}
		return TokenResponse{}, &Error{"invalid_grant", "the refresh token was already used; its sign-in is revoked"}
	}
	if time.Now().After(rt.ExpireTime) {
		return TokenResponse{}, errBadRefresh
	}
	scope := rt.Scope
	if req.Scope != "" {
		for _, f := range strings.Fields(req.Scope) {
			if !slices.Contains(strings.Fields(rt.Scope), f) {
				return TokenResponse{}, &Error{"invalid_scope", "scope " + f + " was not granted to this sign-in"}
			}
		}
		scope = req.Scope
	}
	i, err := s.store.GetIdentity(ctx, rt.RealmID, rt.IdentityID)
	if err != nil || i.Status != "active" {
		return TokenResponse{}, &Error{"invalid_grant", "the identity cannot sign in"}
	}
	if s.Allowed != nil {
		ok, reason, err := s.Allowed(ctx, i, app.ID)
		if err != nil {
			return TokenResponse{}, err
		}
		if !ok {
			return TokenResponse{}, &Error{"invalid_grant", "access denied by policy: " + reason}
		}
	}
	resp, g, err := s.identityTokens(ctx, app, i, session{scope: scope, authTime: rt.AuthTime, family: rt.FamilyID, custom: custom})
	if err != nil {
		return TokenResponse{}, err
	}
	return resp, s.saveGrant(ctx, g)
}

// Revoke revokes a refresh token (and its family) or an access token of
// the application (RFC 7009); an unknown token is no error.
func (s *Service) Revoke(ctx context.Context, req TokenRequest, token string) error {
	app, err := s.authenticateClient(ctx, req)
	if err != nil {
		return err
	}
	rt, err := s.store.GetRefreshToken(ctx, hashCode(token))
	if err == nil && rt.ApplicationID == app.ID {
		return s.store.RevokeRefreshFamily(ctx, rt.FamilyID)
	}
	if err != nil && !errors.Is(err, latchkey.ErrNotFound) {
		return err
	}
	p, err := s.Verify(ctx, token)
	if err != nil {
		return nil
	}
	if err := s.store.DeleteToken(ctx, app.ID, p.TokenID); err != nil && !errors.Is(err, latchkey.ErrNotFound) {
		return err
	}
	return nil
}
