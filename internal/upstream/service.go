package upstream

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/sso"
)

// Service sends browsers to upstream providers and takes them back.
type Service struct {
	store Store
	box   *secretbox.Box
	// SSO reads the providers: SSO configs and identity providers.
	SSO *sso.Service
	// HTTP reaches the providers' token and JWKS endpoints.
	HTTP   *http.Client
	Clock  latchkey.Clock
	Logger *slog.Logger

	mu   sync.Mutex
	keys map[string]*oidc.RemoteKeySet // by JWKS URL: each caches its keys
}

// NewService returns a Service over store that reads providers from configs.
func NewService(store Store, box *secretbox.Box, configs *sso.Service) *Service {
	return &Service{store: store, box: box, SSO: configs, HTTP: &http.Client{Timeout: 15 * time.Second},
		Logger: slog.New(slog.DiscardHandler), keys: map[string]*oidc.RemoteKeySet{}}
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Provider returns a realm's provider of a kind, with its client secret;
// latchkey.ErrNotFound when there is none (an SSO config of another type
// is none).
func (s *Service) Provider(ctx context.Context, tenantID, realmID, kind, id string) (Provider, error) {
	p := Provider{Kind: kind, ID: id, TenantID: tenantID, RealmID: realmID}
	var err error
	switch kind {
	case KindSSOConfig:
		c, cerr := s.SSO.Config(ctx, tenantID, realmID, id)
		if cerr != nil {
			return p, cerr
		}
		idp, ok := c.Payload.(*sso.OIDCIdP)
		if !ok {
			return p, latchkey.ErrNotFound
		}
		p.DisplayName, p.ClientID, p.PKCE, p.Scopes = c.DisplayName, idp.ClientID, idp.PKCE, idp.IDTokenScopes
		p.AuthorizeURL, p.TokenURL, p.JWKSURL = idp.AuthorizationEndpoint, idp.TokenEndpoint, idp.JWKSEndpoint
		p.ClaimName, p.Attribute, p.RedirectURL = idp.IdentifyingClaimName, idp.IdentityAttribute, idp.RedirectURI
		p.ClientSecret, err = s.SSO.Secret(c)
	case KindIdentityProvider:
		ip, ierr := s.SSO.IdentityProvider(ctx, tenantID, realmID, id)
		if ierr != nil {
			return p, ierr
		}
		pc := ip.ProtocolConfig
		p.DisplayName, p.ClientID, p.PKCE, p.Scopes = ip.DisplayName, pc.ClientID, pc.PKCE, pc.TokenScopes
		p.AuthorizeURL, p.TokenURL, p.JWKSURL = pc.AuthorizeURL, pc.TokenURL, pc.JWKSURL
		p.ClaimName, p.Attribute, p.RedirectURL = pc.IdentifyingClaimName, pc.IdentityAttribute, pc.RedirectURL
		p.ClientSecret, err = s.SSO.IdPSecret(ip)
	default:
		return p, latchkey.ErrNotFound
	}
	return p, err
}

// Begin stores a as pending at p and returns where to send the browser
// (the provider's authorization endpoint, with state, nonce and the PKCE
// challenge) and the value of the cookie that binds the callback to this
// browser.
func (s *Service) Begin(ctx context.Context, p Provider, a Authorization, linkToken string) (to, browser string, err error) {
	state, browser := latchkey.RandomString(43), latchkey.RandomString(43)
	now := s.Clock.Now()
	a.ID, a.TenantID, a.RealmID, a.Kind, a.ProviderID = hash(state), p.TenantID, p.RealmID, p.Kind, p.ID
	a.Nonce, a.BrowserHash, a.CreateTime, a.ExpireTime = latchkey.RandomString(32), hash(browser), now, now.Add(TTL)
	if linkToken != "" {
		a.LinkTokenSealed = s.box.Seal([]byte(linkToken))
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(a.Nonce)}
	switch p.PKCE {
	case "s256":
		a.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(a.Verifier))
	case "plain":
		a.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.SetAuthURLParam("code_challenge", a.Verifier), oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	}
	if err := s.store.CreateUpstreamAuthorization(ctx, a); err != nil {
		return "", "", err
	}
	return s.client(p).AuthCodeURL(state, opts...), browser, nil
}

// client is the OAuth 2.0 client Latchkey is at p: the secret goes in the
// Authorization header (or the body, if the provider wants it there); a
// public client names itself in the body.
func (s *Service) client(p Provider) *oauth2.Config {
	style := oauth2.AuthStyleAutoDetect
	if p.ClientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, sc := range p.Scopes {
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: p.RedirectURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: p.AuthorizeURL, TokenURL: p.TokenURL, AuthStyle: style}}
}

// LinkToken opens the binding link's token an authorization keeps.
func (s *Service) LinkToken(a Authorization) (string, error) {
	b, err := s.box.Open(a.LinkTokenSealed)
	return string(b), err
}

func badCallback(format string, args ...any) error {
	return latchkey.Errorf(latchkey.CodeBadRequest, format, args...)
}

// Finish takes the provider's callback (its query q) to the browser that
// holds the cookie browser: the pending authorization its state names is
// taken (once), the code redeemed, the ID token verified, and the identity
// it names returned. The authorization is returned whenever it was found,
// so that the caller can tell its sign-in why it was refused:
// ErrUnknownIdentity, ErrSuspended, ErrNotAssigned (an SSO config the
// identity is not assigned to) or ErrOtherIdentity (a binding job's
// identity is not the one vouched for); other errors are the callback's
// or the provider's, 4xx.
func (s *Service) Finish(ctx context.Context, tenantID, realmID, kind, providerID string, q url.Values, browser string) (Authorization, directory.Identity, error) {
	state := q.Get("state")
	if state == "" {
		return Authorization{}, directory.Identity{}, badCallback("the identity provider's answer has no state")
	}
	a, err := s.store.TakeUpstreamAuthorization(ctx, tenantID, realmID, hash(state), s.Clock.Now())
	if err == nil && (a.Kind != kind || a.ProviderID != providerID) {
		err = latchkey.ErrNotFound
	}
	if errors.Is(err, latchkey.ErrNotFound) {
		return Authorization{}, directory.Identity{}, badCallback("this sign-in is unknown, used or expired; start again")
	}
	if err != nil {
		return Authorization{}, directory.Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hash(browser)), []byte(a.BrowserHash)) != 1 {
		return a, directory.Identity{}, badCallback("this sign-in was started in another browser; start again")
	}
	if e := q.Get("error"); e != "" {
		return a, directory.Identity{}, badCallback("the identity provider did not sign you in: %s", clip(e+" "+q.Get("error_description")))
	}
	p, err := s.Provider(ctx, tenantID, realmID, kind, providerID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return a, directory.Identity{}, badCallback("the identity provider is no longer configured")
	}
	if err != nil {
		return a, directory.Identity{}, err
	}
	claims, err := s.verify(ctx, p, a, q.Get("code"))
	if err != nil {
		return a, directory.Identity{}, err
	}
	i, err := s.identity(ctx, p, claims)
	if err != nil {
		return a, i, err
	}
	switch {
	case kind == KindIdentityProvider && i.ID != a.IdentityID:
		return a, i, ErrOtherIdentity
	case kind == KindSSOConfig:
		ok, err := s.SSO.Allowed(ctx, tenantID, realmID, providerID, i)
		if err != nil {
			return a, i, err
		}
		if !ok {
			return a, i, ErrNotAssigned
		}
	}
	return a, i, nil
}

// clip keeps a provider's words short enough for a page.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

// verify redeems code at p's token endpoint and returns the claims of the
// ID token it answers, once verified: signed by a key of p's JWKS, for
// Latchkey's client (aud), unexpired, with a's nonce, from p's issuer.
func (s *Service) verify(ctx context.Context, p Provider, a Authorization, code string) (map[string]any, error) {
	if code == "" {
		return nil, badCallback("the identity provider's answer has no code")
	}
	ctx = oidc.ClientContext(ctx, s.HTTP)
	var opts []oauth2.AuthCodeOption
	if a.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(a.Verifier))
	}
	tok, err := s.client(p).Exchange(ctx, code, opts...)
	if err != nil {
		return nil, badCallback("the identity provider did not redeem its code: %s", clip(err.Error()))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, badCallback("the identity provider answered no ID token")
	}
	v := oidc.NewVerifier("", s.keySet(p.JWKSURL), &oidc.Config{ClientID: p.ClientID, SkipIssuerCheck: true, Now: s.Clock.Now,
		SupportedSigningAlgs: []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}})
	id, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, badCallback("the identity provider's ID token is not valid: %s", clip(err.Error()))
	}
	if !issuerOf(id.Issuer, p.AuthorizeURL) {
		return nil, badCallback("the ID token's issuer %q is not the identity provider's", clip(id.Issuer))
	}
	if subtle.ConstantTimeCompare([]byte(id.Nonce), []byte(a.Nonce)) != 1 {
		return nil, badCallback("the ID token's nonce is not this sign-in's")
	}
	var claims map[string]any
	if err := id.Claims(&claims); err != nil {
		return nil, badCallback("the ID token's claims are not valid: %s", clip(err.Error()))
	}
	return claims, nil
}

// keySet is the provider's JWKS, kept per URL so that its keys are
// fetched again only for a key id it has not seen.
func (s *Service) keySet(jwksURL string) *oidc.RemoteKeySet {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, ok := s.keys[jwksURL]
	if !ok {
		ks = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), s.HTTP), jwksURL)
		s.keys[jwksURL] = ks
	}
	return ks
}

// issuerOf reports whether iss is the issuer of the provider whose
// authorization endpoint is authorize. The configs name no issuer, so it
// is derived: an issuer serves its endpoints under its own URL (OIDC
// Discovery §4.3 puts its metadata there), so iss must be on the same
// origin and its path a prefix, by whole segments, of the endpoint's
// (https://example.okta.com for https://example.okta.com/oauth2/v1/authorize).
func issuerOf(iss, authorize string) bool {
	i, err1 := url.Parse(iss)
	a, err2 := url.Parse(authorize)
	if err1 != nil || err2 != nil || i.Scheme != a.Scheme || i.Host == "" || i.Host != a.Host ||
		i.User != nil || i.RawQuery != "" || i.Fragment != "" {
		return false
	}
	prefix := strings.TrimSuffix(i.EscapedPath(), "/")
	path := a.EscapedPath()
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

// identity finds the one identity of the realm whose attribute equals the
// ID token's identifying claim; it must be active.
func (s *Service) identity(ctx context.Context, p Provider, claims map[string]any) (directory.Identity, error) {
	value, _ := claims[p.ClaimName].(string)
	if value == "" {
		return directory.Identity{}, badCallback("the ID token has no claim %s", p.ClaimName)
	}
	attr := map[string]string{"id": "id", "email": "traits.primary_email_address",
		"username": "traits.username", "external_id": "traits.external_id"}[p.Attribute]
	if attr == "" {
		return directory.Identity{}, badCallback("the identity provider's identity_attribute %q is not known", p.Attribute)
	}
	found, _, err := s.store.ListIdentities(ctx, p.RealmID, latchkey.ListOptions{Limit: 2, SkipTotal: true,
		Filter: &filter.Compare{Attr: attr, Op: filter.Eq, Value: value}})
	switch {
	case err != nil:
		return directory.Identity{}, err
	case len(found) != 1 || found[0].TenantID != p.TenantID: // a value of several identities names none
		return directory.Identity{}, ErrUnknownIdentity
	case !found[0].Active():
		return found[0], ErrSuspended
	}
	return found[0], nil
}

// DeleteExpired removes the authorizations that expired, for the node's sweep.
func (s *Service) DeleteExpired(ctx context.Context) (int, error) {
	return s.store.DeleteExpiredUpstreamAuthorizations(ctx, s.Clock.Now())
}
