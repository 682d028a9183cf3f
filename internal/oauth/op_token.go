package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// IDClaims are the claims of an ID token (OpenID Connect Core §2) and of
// the userinfo answer.
type IDClaims struct {
	jwt.Claims
	Audience          Audience `json:"aud,omitempty"`
	AZP               string   `json:"azp,omitempty"`
	Nonce             string   `json:"nonce,omitempty"`
	AuthTime          int64    `json:"auth_time,omitempty"`
	ATHash            string   `json:"at_hash,omitempty"`
	AMR               []string `json:"amr,omitempty"`
	ACR               string   `json:"acr,omitempty"`
	SID               string   `json:"sid,omitempty"` // the browser's session (OIDC Back-Channel Logout §2.1)
	Name              string   `json:"name,omitempty"`
	GivenName         string   `json:"given_name,omitempty"`
	FamilyName        string   `json:"family_name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	UpdatedAt         int64    `json:"updated_at,omitempty"`
	Email             string   `json:"email,omitempty"`
}

var errBadCode = &Error{"invalid_grant", "the authorization code is invalid, expired or already used"}

// redeemCode exchanges an authorization code for tokens: once, before it
// expires, for the redirect URI and PKCE verifier it was issued for. A
// replayed code also revokes what its first redemption bought.
func (s *Service) redeemCode(ctx context.Context, app client, req TokenRequest, custom json.RawMessage) (TokenResponse, error) {
	ar, i, err := s.signInByCode(ctx, hashCode(req.Code))
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && ar.ApplicationID != app.ID) {
		return TokenResponse{}, errBadCode
	}
	if err != nil {
		return TokenResponse{}, err
	}
	if ar.CodeUsed {
		return TokenResponse{}, s.revokeReplayed(ctx, ar)
	}
	switch {
	case s.Clock.Now().After(ar.ExpireTime):
		return TokenResponse{}, errBadCode
	case req.RedirectURI != ar.Params.RedirectURI:
		return TokenResponse{}, &Error{"invalid_grant", "redirect_uri differs from the one of the authorization request"}
	case !verifyPKCE(ar.Params, req.CodeVerifier):
		return TokenResponse{}, &Error{"invalid_grant", "code_verifier does not match the code_challenge"}
	}
	if !i.Active() {
		return TokenResponse{}, &Error{"invalid_grant", "the identity cannot sign in"}
	}
	resp, g, err := s.identityTokens(ctx, app, i, session{scope: ar.Params.Scope, nonce: ar.Params.Nonce, authTime: ar.AuthTime,
		family: ar.ID, credentialID: ar.CredentialID, custom: custom, sid: ar.SessionID, amr: ar.AMR, acr: ar.ACR,
		refreshDeadline: app.ProtocolConfig.RefreshTokenConfiguration.deadline(s.Clock.Now())})
	if err != nil {
		return TokenResponse{}, err
	}
	// The code is spent with the records of what it bought, all or
	// nothing, so that a concurrent redemption finds all or nothing.
	g.Redeems = ar.ID
	g.Events = []audit.Event{s.tokenEvent(ctx, audit.TokenIssued, "authorization_code", app, i, ar.ID, ar.CredentialID)}
	err = s.saveGrant(ctx, g)
	if errors.Is(err, latchkey.ErrNotFound) { // redeemed concurrently: revoke what that redemption issued
		return TokenResponse{}, s.revokeReplayed(ctx, ar)
	}
	return resp, err
}

// issuedCode is a sign-in that this node finished with a code, and the
// identity that signed in (Service.issued).
type issuedCode struct {
	request  AuthRequest
	identity directory.Identity
}

// signInByCode returns the finished sign-in of a code's hash with its
// identity: as this node issued it in the last nodecache.TTL, or as read.
func (s *Service) signInByCode(ctx context.Context, hash string) (AuthRequest, directory.Identity, error) {
	if v, ok := s.issued.Get(hash, s.Clock.Now()); ok {
		return v.request, v.identity, nil
	}
	return s.store.GetSignInByCode(ctx, hash)
}

// revokeReplayed answers a replayed code: every token its first
// redemption led to, refreshed ones too, is revoked (RFC 6749 §4.1.2,
// RFC 9700 §4.5): its family is the sign-in's.
func (s *Service) revokeReplayed(ctx context.Context, ar AuthRequest) error {
	if err := s.store.RevokeFamily(ctx, ar.ID); err != nil {
		return err
	}
	return errBadCode
}

// Grant is what a token response stores: the records of its access and ID
// tokens, its refresh token's if any, the family they descend from, and,
// when an authorization code bought it, the sign-in whose code it spends.
type Grant struct {
	Tokens  []Token
	Refresh *RefreshToken
	// Family is the family of a sign-in's tokens (nil for client
	// credentials): redeeming the code starts it; a refresh continues it,
	// and stores nothing once the family was revoked.
	Family *Family
	// Redeems is the id of the sign-in whose code is spent, once ("" for
	// the other grants).
	Redeems string
	// Events are recorded with the grant (token.issued, token.refreshed),
	// in its group commit, and not when it stores nothing.
	Events []audit.Event
}

// Approval is what a sign-in that policy allowed stores, all or nothing:
// its request finished with the code's hash (FinishAuthRequest's rules),
// or, New, stored finished (a sign-in in a session); when Request names a
// session, the session's use of the application (TouchSession: its times
// renewed too, see sessions.Session.TouchDue); and the sign-in's events.
// Session, when set, is the session that the sign-in began, stored first.
type Approval struct {
	Request      AuthRequest
	New          bool
	At           time.Time
	TouchSession bool
	Events       []audit.Event
	Session      *sessions.Session
}

// tokenEvent is the event of a grant's tokens for an identity.
func (s *Service) tokenEvent(ctx context.Context, action, grantType string, app client, i directory.Identity, correlation, credentialID string) audit.Event {
	e := s.signInEvent(ctx, action, app.TenantID, app.RealmID, app.ID, correlation, &i, credentialID)
	e.GrantType = grantType
	return e
}

// session is what tokens of a sign-in carry over from it.
type session struct {
	scope        string
	nonce        string
	authTime     time.Time
	family       string          // the grant family: the sign-in's id
	credentialID string          // the passkey that signed in, for a family that starts
	custom       json.RawMessage // the token request's custom_claims, for the access token
	sid, acr     string          // for the ID token: the browser's session ("" for none) and how it signed in
	amr          []string
	// refreshDeadline bounds the family's refresh tokens (zero: no bound).
	refreshDeadline time.Time
	// reuse is the refresh token that a refresh of a non-rotating
	// application answers again (its record and the token itself), instead
	// of a new one.
	reuse    *RefreshToken
	reuseRaw string
}

// identityTokens issues the access token (and, for OIDC, the ID token; with
// the refresh_token grant, a refresh token) of a sign-in, and returns the
// records the caller must store, with what else it stores, before it
// answers.
func (s *Service) identityTokens(ctx context.Context, app client, i directory.Identity, ss session) (TokenResponse, Grant, error) {
	pc := app.ProtocolConfig
	requested := strings.Fields(ss.scope)
	scopes, err := grantedScopes(withoutOIDC(ss.scope), pc.AllowedScopes)
	if err != nil {
		return TokenResponse{}, Grant{}, err
	}
	if len(strings.Fields(withoutOIDC(ss.scope))) == 0 {
		scopes = nil // asked for none of the resource server's scopes
	}
	if len(scopes) > 0 {
		// An identity gets only the scopes its roles (its own or its groups') hold.
		held, err := s.store.ScopesOfIdentity(ctx, i.ID, app.ResourceServerID)
		if err != nil {
			return TokenResponse{}, Grant{}, err
		}
		scopes = slices.DeleteFunc(scopes, func(sc string) bool { return !slices.Contains(held, sc) })
	}
	refreshes := slices.Contains(pc.GrantType, "refresh_token")
	for _, o := range oidcScopes {
		if pc.Type == "oidc" && slices.Contains(requested, o) && (o != "offline_access" || refreshes) {
			scopes = append(scopes, o)
		}
	}
	lifetime := time.Duration(pc.TokenConfiguration.ExpiresAfter) * time.Second
	now := s.Clock.Now().Truncate(time.Second)
	issuer := s.Issuer(app.TenantID, app.RealmID, app.ID)
	sub := subject(pc.TokenConfiguration.SubjectField, i)
	principal := "tenants/" + i.TenantID + "/realms/" + i.RealmID + "/identities/" + i.ID
	access := Claims{
		Claims: jwt.Claims{Issuer: issuer, Subject: sub, Expiry: jwt.NewNumericDate(now.Add(lifetime)),
			NotBefore: jwt.NewNumericDate(now), IssuedAt: jwt.NewNumericDate(now), ID: latchkey.RandomString(32)},
		Audience: app.audience, Scope: strings.Join(scopes, " "), AZP: pc.ClientID,
		TenantID: app.TenantID, RealmID: app.RealmID, Principal: principal, GrantType: "authorization_code", Custom: ss.custom,
	}
	raw, record, err := s.accessToken(app.Application, access, "identity", i.ID, scopes)
	if err != nil {
		return TokenResponse{}, Grant{}, err
	}
	record.FamilyID = ss.family
	g := Grant{Tokens: []Token{record}, Family: &Family{ID: ss.family, TenantID: app.TenantID, RealmID: app.RealmID,
		ApplicationID: app.ID, IdentityID: i.ID, CredentialID: ss.credentialID, CreateTime: now, ExpireTime: now.Add(lifetime)}}
	resp := TokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: int(lifetime.Seconds()), Scope: strings.Join(scopes, " ")}
	if refreshes {
		rt := ss.reuse
		if rt != nil {
			resp.RefreshToken = ss.reuseRaw
		} else {
			var fresh RefreshToken
			resp.RefreshToken, fresh = newRefreshToken(app.Application, i, ss, s.Clock.Now())
			rt, g.Refresh = &fresh, &fresh
		}
		if rt.ExpireTime.After(g.Family.ExpireTime) {
			g.Family.ExpireTime = rt.ExpireTime
		}
	}
	if pc.Type != "oidc" || !slices.Contains(requested, "openid") {
		return resp, g, nil
	}
	id := IDClaims{
		Claims: jwt.Claims{Issuer: issuer, Subject: sub, Expiry: jwt.NewNumericDate(now.Add(lifetime)),
			IssuedAt: jwt.NewNumericDate(now), ID: latchkey.RandomString(32)},
		Audience: Audience{pc.ClientID}, AZP: pc.ClientID, Nonce: ss.nonce, AuthTime: ss.authTime.Unix(),
		ATHash: atHash(raw), AMR: ss.amr, ACR: ss.acr, SID: ss.sid,
	}
	if len(id.AMR) == 0 { // a refresh, or a code of before sessions
		id.AMR = sdkAMR
	}
	profile(&id, i, scopes)
	if resp.IDToken, err = s.sign(tokenAlgorithm(app.Application), issuer, id); err != nil {
		return TokenResponse{}, Grant{}, err
	}
	rec := tokenRecord(app.Application, id.Claims, "identity", i.ID, scopes, "identity")
	rec.TokenSuffix, rec.FamilyID = resp.IDToken[len(resp.IDToken)-11:], ss.family
	g.Tokens = append(g.Tokens, rec)
	return resp, g, nil
}

// profile adds the claims that the profile and email scopes grant. Latchkey
// does not verify e-mail addresses, so email_verified is never claimed.
func profile(c *IDClaims, i directory.Identity, scopes []string) {
	if slices.Contains(scopes, "profile") {
		c.Name, c.PreferredUsername = i.DisplayName, i.Traits.Username
		c.GivenName, c.FamilyName = i.Traits.GivenName, i.Traits.FamilyName
		if !i.UpdateTime.IsZero() {
			c.UpdatedAt = i.UpdateTime.Unix()
		}
	}
	if slices.Contains(scopes, "email") {
		c.Email = i.Traits.PrimaryEmailAddress
	}
}

// atHash is the at_hash of an access token signed with RS256 or ES256
// (both hash with SHA-256).
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// UserInfo answers the userinfo endpoint of an application for an
// identity's access token, if the application issued it: another
// application's token is invalid here.
func (s *Service) UserInfo(ctx context.Context, tenantID, realmID, appID string, p Principal) (IDClaims, error) {
	if p.Type != "identity" || p.TenantID != tenantID || p.RealmID != realmID || p.ApplicationID != appID {
		return IDClaims{}, ErrInvalidToken
	}
	app, err := s.application(ctx, tenantID, realmID, appID)
	if err != nil {
		return IDClaims{}, err
	}
	i, err := s.store.GetIdentity(ctx, realmID, p.ID)
	if err != nil || !slices.Contains(p.Scopes, "openid") {
		return IDClaims{}, ErrInvalidToken
	}
	c := IDClaims{Claims: jwt.Claims{Subject: subject(app.ProtocolConfig.TokenConfiguration.SubjectField, i)}}
	profile(&c, i, p.Scopes)
	return c, nil
}
