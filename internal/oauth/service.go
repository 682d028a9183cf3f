package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/policy"
	"github.com/latchkey/latchkey/internal/secretbox"
)

// Service issues and verifies tokens and manages token records.
type Service struct {
	store      Store
	box        *secretbox.Box
	policy     Policy
	publicURL  string
	keys       *keyring
	clients    nodecache.Cache[authenticatedClient]
	signInApps nodecache.Cache[signInApp]
	// signed are the claims of the JWTs whose signature Verify checked in
	// the last nodecache.TTL, by the token's SHA-256: an API client sends
	// the same token with every request. Their times, records and keys
	// are checked every time.
	signed nodecache.Cache[signedToken]
	// issued are the sign-ins whose codes this node issued in the last
	// nodecache.TTL, by the code's hash, with the identity that signed in:
	// a client redeems its code a moment after, most often at the node
	// that issued it, which then need not read the sign-in back. Nothing
	// of a finished sign-in changes but its code's use, which SaveGrant
	// checks with the identity's and passkey's state when it spends the
	// code; the ID token's claims are the identity's at the sign-in.
	issued nodecache.Cache[issuedCode]
	// Clock dates changes, codes, tokens and their expiry, and ages the caches.
	Clock latchkey.Clock
	// DeliveryQueued, when set, is called when back-channel logouts were
	// queued (the delivery worker's Wake).
	DeliveryQueued func()
	// Entra answers Entra ID's requests to its external authentication
	// methods (entra.go).
	Entra Entra
}

// Policy decides whether an identity, as just read, may use an application
// of its realm: policy.Service. The service asks it before it issues every
// code and every refresh. Whether the application still exists is not its
// question: storing the grant answers that (saveGrant).
type Policy interface {
	Decide(ctx context.Context, i directory.Identity, applicationID string) (policy.Decision, error)
}

// NewService returns a Service that asks policies before it lets an
// identity in. publicURL is the external base URL that issuers and jku
// headers start with.
func NewService(store Store, box *secretbox.Box, policies Policy, publicURL string) *Service {
	return &Service{store: store, box: box, policy: policies, publicURL: strings.TrimRight(publicURL, "/"),
		keys: &keyring{store: store, box: box}, signed: nodecache.Cache[signedToken]{Bound: signedBound},
		issued: nodecache.Cache[issuedCode]{Bound: issuedBound}}
}

// Denied is a sign-in or refresh that policy refused.
type Denied struct{ Reason string }

func (d *Denied) Error() string { return "access denied by policy: " + d.Reason }

// DeniedDescription is the error_description that a browser carries back
// to the application when policy refused its sign-in: the person learns
// that the account may not use it, never the policy's rules (the sign-in
// log has the reason).
const DeniedDescription = "this account may not use the application"

// allowed asks policy whether an identity may use an application: nil, or
// *Denied with the policy's reason.
func (s *Service) allowed(ctx context.Context, i directory.Identity, applicationID string) error {
	d, err := s.policy.Decide(ctx, i, applicationID)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &Denied{Reason: d.Reason}
	}
	return nil
}

// Start makes sure a signing key exists and loads the keys; call it once
// before serving.
func (s *Service) Start(ctx context.Context) error { return s.keys.ensure(ctx, s.Clock.Now()) }

// Box returns the box that seals secrets, for callers that create applications.
func (s *Service) Box() *secretbox.Box { return s.box }

// Issuer is the issuer URL of an application, the base of its OAuth endpoints.
func (s *Service) Issuer(tenantID, realmID, appID string) string {
	return s.publicURL + "/v1/" + appPath(tenantID, realmID, appID)
}

func appPath(tenantID, realmID, appID string) string {
	return "tenants/" + tenantID + "/realms/" + realmID + "/applications/" + appID
}

// JWKS returns the public signing keys.
func (s *Service) JWKS() jose.JSONWebKeySet { return s.keys.jwks() }

// Error is an OAuth 2.0 error response (RFC 6749 §5.2).
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// MarshalJSON writes the error with a description in the characters that
// RFC 6749 §5.2 allows: policy reasons, for one, name groups.
func (e Error) MarshalJSON() ([]byte, error) {
	type plain Error
	return json.Marshal(plain{Code: e.Code, Description: safeDescription(e.Description)})
}

// safeDescription is s in the characters that error_description may hold
// (printable ASCII without the quote and the backslash): a quote becomes
// an apostrophe, a backslash a slash, anything else a question mark.
func safeDescription(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\':
			return '/'
		case r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// TokenRequest is a request to an application's token endpoint.
type TokenRequest struct {
	TenantID, RealmID, ApplicationID string
	GrantType                        string
	ClientID, ClientSecret           string
	Scope                            string
	// ExpirationTime, in seconds, shortens the token's configured lifetime;
	// for a token of SCIM scopes only it may also lengthen it, up to
	// MaxSCIMTokenLifetime.
	ExpirationTime string
	// Code, RedirectURI and CodeVerifier redeem an authorization code.
	Code, RedirectURI, CodeVerifier string
	RefreshToken                    string
	// CustomClaims is a JSON object the access token carries as bi_custom.
	CustomClaims string
}

// maxCustomClaims bounds custom_claims, which every copy of the token carries.
const maxCustomClaims = 4096

// customClaims checks the custom_claims parameter: empty, or a JSON object.
func customClaims(raw string) (json.RawMessage, error) {
	if raw == "" {
		return nil, nil
	}
	var object map[string]any
	if len(raw) > maxCustomClaims || json.Unmarshal([]byte(raw), &object) != nil || object == nil {
		return nil, &Error{"invalid_request", "custom_claims must be a JSON object of at most 4096 bytes"}
	}
	if field, problem := latchkey.JSONTextProblem(object); problem != "" {
		return nil, &Error{"invalid_request", "custom_claims." + field + " " + problem}
	}
	return json.RawMessage(raw), nil
}

// grantTypes are the grants the token endpoint knows; an application lists
// those it may use ("refresh_token" gives its sign-ins refresh tokens).
var grantTypes = []string{"authorization_code", "client_credentials", "refresh_token"}

// TokenResponse is a successful token endpoint answer.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// Claims are the claims of an access token.
type Claims struct {
	jwt.Claims
	// Audience shadows jwt.Claims.Audience, which go-jose writes as a bare
	// string when it holds one value; the reference's tokens carry an array
	// (["beyondidentity"] for the management API).
	Audience  Audience `json:"aud,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	AZP       string   `json:"azp,omitempty"`
	TenantID  string   `json:"bi_t"`
	RealmID   string   `json:"bi_r"`
	Principal string   `json:"bi_p"`
	GrantType string   `json:"bi_ty,omitempty"`
	// Custom is the token request's custom_claims.
	Custom json.RawMessage `json:"bi_custom,omitempty"`
}

// Audience is the aud claim: always written as an array, read from an
// array or a single string.
type Audience []string

// MarshalJSON writes the audience as an array, even of one value.
func (a Audience) MarshalJSON() ([]byte, error) { return json.Marshal([]string(a)) }

// UnmarshalJSON reads an array or a single string.
func (a *Audience) UnmarshalJSON(b []byte) error {
	var v jwt.Audience
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*a = Audience(v)
	return nil
}

// Token issues tokens for the client_credentials and authorization_code grants.
func (s *Service) Token(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	app, err := s.authenticateClient(ctx, req)
	if err != nil {
		return TokenResponse{}, err
	}
	if !slices.Contains(grantTypes, req.GrantType) {
		return TokenResponse{}, &Error{"unsupported_grant_type", "supported: " + strings.Join(grantTypes, ", ")}
	}
	if !slices.Contains(app.ProtocolConfig.GrantType, req.GrantType) {
		return TokenResponse{}, &Error{"unauthorized_client", "the application may not use the " + req.GrantType + " grant"}
	}
	custom, err := customClaims(req.CustomClaims)
	if err != nil {
		return TokenResponse{}, err
	}
	switch req.GrantType {
	case "authorization_code":
		return s.redeemCode(ctx, app, req, custom)
	case "refresh_token":
		return s.refresh(ctx, app, req, custom)
	}
	if app.ProtocolConfig.Confidentiality == "public" {
		return TokenResponse{}, &Error{"unauthorized_client", "a public client cannot use the client_credentials grant"}
	}
	// OpenID Connect scopes mean nothing without a user: ignored.
	asked := withoutOIDC(req.Scope)
	scopes, err := grantedScopes(asked, app.ProtocolConfig.AllowedScopes)
	if err != nil {
		return TokenResponse{}, err
	}
	if asked == "" && strings.TrimSpace(req.Scope) != "" {
		scopes = nil // only OpenID Connect scopes were asked for: none of the resource server's
	}
	lifetime, err := lifetime(app.ProtocolConfig.TokenConfiguration.ExpiresAfter, req.ExpirationTime, onlySCIM(scopes))
	if err != nil {
		return TokenResponse{}, err
	}
	principal := appPath(app.TenantID, app.RealmID, app.ID)
	// Management API tokens span the tenant: their bi_r is "*", as the reference says.
	realmClaim := app.RealmID
	if slices.Contains(app.audience, ManagementAPI) {
		realmClaim = "*"
	}
	now := s.Clock.Now().Truncate(time.Second)
	claims := Claims{
		Claims: jwt.Claims{
			Issuer: s.Issuer(app.TenantID, app.RealmID, app.ID), Subject: app.ProtocolConfig.ClientID,
			Expiry: jwt.NewNumericDate(now.Add(lifetime)), NotBefore: jwt.NewNumericDate(now),
			IssuedAt: jwt.NewNumericDate(now), ID: latchkey.RandomString(32),
		},
		Audience: app.audience, Scope: strings.Join(scopes, " "), AZP: principal,
		TenantID: app.TenantID, RealmID: realmClaim, Principal: principal, GrantType: req.GrantType, Custom: custom,
	}
	raw, record, err := s.accessToken(app.Application, claims, "application", app.ID, scopes)
	if err != nil {
		return TokenResponse{}, err
	}
	issued := s.signInEvent(ctx, audit.TokenIssued, app.TenantID, app.RealmID, app.ID, "", nil, "")
	issued.GrantType, issued.Outcome = "client_credentials", audit.Allowed
	if err := s.saveGrant(ctx, Grant{Tokens: []Token{record}, Events: []audit.Event{issued}}); err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: int(lifetime.Seconds()), Scope: claims.Scope}, nil
}

// accessToken issues the access token of claims for a principal (its type
// and id), in the application's token_format: a JWT signed with the token
// key (self_contained), or an opaque random string (referential) whose
// record, found again by the string's hash, keeps the claims. It returns
// the token and the record to store.
func (s *Service) accessToken(app Application, c Claims, principalType, principalID string, scopes []string) (string, Token, error) {
	rec := tokenRecord(app, c.Claims, principalType, principalID, scopes, "access")
	rec.TokenFormat = or(app.ProtocolConfig.TokenFormat, "self_contained")
	var raw string
	var err error
	if rec.TokenFormat == "referential" {
		raw = latchkey.RandomString(43)
		c.ID = referentialID(raw)
		var b []byte
		b, err = json.Marshal(c)
		rec.Claims = string(b)
	} else {
		raw, err = s.sign(tokenAlgorithm(app), c.Issuer, c)
	}
	if err != nil {
		return "", Token{}, err
	}
	rec.ID, rec.TokenSuffix = c.ID, raw[len(raw)-11:]
	return raw, rec, nil
}

// tokenRecord is the record of a self-contained token of the application
// with claims c, for a principal (its type and id); the caller adds the
// token's suffix.
func tokenRecord(app Application, c jwt.Claims, principalType, principalID string, scopes []string, tokenType string) Token {
	return Token{ID: c.ID, TenantID: app.TenantID, RealmID: app.RealmID, ApplicationID: app.ID, PrincipalType: principalType,
		PrincipalID: principalID, Scopes: scopes, TokenFormat: "self_contained", TokenType: tokenType,
		IssuedAt: c.IssuedAt.Time().Unix(), Expires: c.Expiry.Time().Unix()}
}

// referentialID is the record id of a referential token: a hash, so that
// the records (and the API that lists them) never hold the token itself.
func referentialID(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// sign signs claims as a JWT with the current key of alg; its jku is the
// issuer's JWKS. The claims are marshalled once: go-jose's jwt builder
// would marshal them, unmarshal them into a map and marshal that again
// (a third of a sign-in's allocations, for the SDK's large request JWT).
func (s *Service) sign(alg jose.SignatureAlgorithm, issuer string, claims any) (string, error) {
	return s.signTyped(alg, "JWT", issuer, claims)
}

// signTyped is sign with another typ header, e.g. a logout token's.
func (s *Service) signTyped(alg jose.SignatureAlgorithm, typ, issuer string, claims any) (string, error) {
	signer, err := s.keys.signer(alg, typ, issuer+"/.well-known/jwks.json")
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

var errInvalidClient = &Error{"invalid_client", "client authentication failed"}

// saveGrant stores a grant. An application that is gone, deleted perhaps
// on another node after this one cached it, fails as a client that cannot
// authenticate: the records' reference to it catches that.
func (s *Service) saveGrant(ctx context.Context, g Grant) error {
	err := s.store.SaveGrant(ctx, g)
	if errors.Is(err, latchkey.ErrNoParent) {
		return errInvalidClient
	}
	return err
}

// authenticateClient finds the application of the token endpoint and checks
// the client's credentials against it. A client that authenticated on this
// node in the last ClientCacheTTL with the same credentials is not read again.
func (s *Service) authenticateClient(ctx context.Context, req TokenRequest) (client, error) {
	key := appPath(req.TenantID, req.RealmID, req.ApplicationID)
	credentials := credentialsHash(req.ClientID, req.ClientSecret)
	if c, ok := s.clients.Get(key, s.Clock.Now()); ok && subtle.ConstantTimeCompare(c.credentials[:], credentials[:]) == 1 {
		return c.client, nil
	}
	app, sealed, err := s.store.GetApplication(ctx, req.RealmID, req.ApplicationID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && app.TenantID != req.TenantID) {
		return client{}, errInvalidClient
	}
	if err != nil {
		return client{}, err
	}
	if req.ClientID != app.ProtocolConfig.ClientID {
		return client{}, errInvalidClient
	}
	if sealed == "" { // a public client has no secret to check, and must send none
		if app.ProtocolConfig.Confidentiality != "public" || req.ClientSecret != "" {
			return client{}, errInvalidClient
		}
	} else {
		secret, err := s.box.Open(sealed)
		if err != nil {
			return client{}, err
		}
		if subtle.ConstantTimeCompare(secret, []byte(req.ClientSecret)) != 1 {
			return client{}, errInvalidClient
		}
	}
	c := client{Application: app}
	if app.ResourceServerID != "" {
		rs, err := s.store.GetResourceServer(ctx, app.RealmID, app.ResourceServerID)
		if err != nil {
			return client{}, err
		}
		c.audience = []string{rs.Identifier}
	}
	s.clients.Put(key, authenticatedClient{client: c, credentials: credentials}, s.Clock.Now())
	return c, nil
}

// grantedScopes returns the requested scopes, all of which must be allowed,
// or every allowed scope when none are requested.
func grantedScopes(requested string, allowed []string) ([]string, error) {
	fields := strings.Fields(requested)
	if len(fields) == 0 {
		return slices.Clone(allowed), nil
	}
	var out []string
	for _, f := range fields {
		if !slices.Contains(allowed, f) {
			return nil, &Error{"invalid_scope", "scope " + f + " is not allowed for this application"}
		}
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out, nil
}

// MaxSCIMTokenLifetime bounds the lifetime expiration_time may ask for a
// token of SCIM scopes only. SCIM clients such as Okta and Microsoft Entra ID
// are given one static bearer token and cannot renew it; deleting the
// token's record revokes it.
const MaxSCIMTokenLifetime = 366 * 24 * time.Hour

// onlySCIM reports whether scopes are all SCIM scopes.
func onlySCIM(scopes []string) bool {
	return len(scopes) > 0 && !slices.ContainsFunc(scopes, func(s string) bool { return !strings.HasPrefix(s, "scim:") })
}

// lifetime is the configured token lifetime, or the one expiration_time asks
// for: shorter, or, when extendable, up to MaxSCIMTokenLifetime.
func lifetime(configured int, expirationTime string, extendable bool) (time.Duration, error) {
	d := time.Duration(configured) * time.Second
	if expirationTime == "" {
		return d, nil
	}
	n, err := strconv.Atoi(expirationTime)
	if err != nil || n <= 0 {
		return 0, &Error{"invalid_request", "expiration_time must be a positive number of seconds"}
	}
	asked := time.Duration(min(n, int(MaxSCIMTokenLifetime/time.Second))) * time.Second
	if extendable {
		return asked, nil
	}
	return min(d, asked), nil
}

// Principal is the verified bearer of an access token.
type Principal struct {
	Type     string // "application" or "identity"
	ID       string
	TenantID string
	RealmID  string
	TokenID  string
	Audience []string
	Scopes   []string
	// ApplicationID is the application that issued the token.
	ApplicationID string
	// home is the realm the principal lives in (RealmID is "*" for a
	// tenant-wide management token).
	home string
}

// Manages reports whether the principal's token is for the management API
// of tenantID.
func (p Principal) Manages(tenantID string) bool {
	return slices.Contains(p.Audience, ManagementAPI) && p.TenantID == tenantID
}

// HasScopes reports whether the token holds every one of scopes.
func (p Principal) HasScopes(scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(p.Scopes, s) {
			return false
		}
	}
	return true
}

// IssueToken is the client-credentials grant of an application for a
// person minting a token by hand (the console's API tokens page), without
// its secret: the request names the scopes, which must all be the actor's
// own. The audit log records the token as made by the actor of ctx. Grants
// by programs, at the token endpoint, are not recorded: the token records
// hold them.
func (s *Service) IssueToken(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	scopes := strings.Fields(req.Scope)
	if len(scopes) == 0 {
		return TokenResponse{}, &Error{"invalid_scope", "name the scopes of the token"}
	}
	if missing := beyond(ctx, scopes); len(missing) > 0 {
		return TokenResponse{}, &Error{"invalid_scope", "your token does not grant " + strings.Join(missing, ", ")}
	}
	app, sealed, err := s.store.GetApplication(ctx, req.RealmID, req.ApplicationID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && (app.TenantID != req.TenantID || sealed == "")) {
		return TokenResponse{}, errInvalidClient
	}
	if err != nil {
		return TokenResponse{}, err
	}
	secret, err := s.box.Open(sealed)
	if err != nil {
		return TokenResponse{}, err
	}
	req.GrantType, req.ClientID, req.ClientSecret = "client_credentials", app.ProtocolConfig.ClientID, string(secret)
	resp, err := s.Token(ctx, req)
	if err != nil {
		return resp, err
	}
	p, err := s.Verify(ctx, resp.AccessToken)
	if err != nil {
		return TokenResponse{}, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		return s.record(ctx, tx, req.TenantID, req.RealmID, "token.create", "Token", p.TokenID)
	})
	return resp, err
}

// tokenAlgorithms are the algorithms a token may be signed with; the key
// its kid names must be of that algorithm too (go-jose checks the key type).
var tokenAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// ErrInvalidToken means a bearer token is malformed, forged, expired or revoked.
var ErrInvalidToken = errors.New("invalid token")

// Verify checks an access token: signature by one of our keys, time window,
// and a token record that still exists, so that deleting a record revokes
// its token on every node at once.
func (s *Service) Verify(ctx context.Context, raw string) (Principal, error) {
	c, rec, err := s.verifiedClaims(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	return Principal{
		Type: rec.PrincipalType, ID: rec.PrincipalID, TenantID: c.TenantID, RealmID: c.RealmID,
		TokenID: c.ID, Audience: c.Audience, Scopes: strings.Fields(c.Scope), ApplicationID: rec.ApplicationID, home: rec.RealmID,
	}, nil
}

// verifiedClaims are the claims and the record of a token that Verify
// accepts: a JWT (which has dots) or a referential token (which has none).
func (s *Service) verifiedClaims(ctx context.Context, raw string) (Claims, Token, error) {
	if !strings.Contains(raw, ".") {
		return s.referentialClaims(ctx, raw)
	}
	c, err := s.signedClaims(ctx, raw)
	if err != nil {
		return Claims{}, Token{}, err
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: s.Clock.Now()}, 30*time.Second); err != nil || c.Expiry == nil {
		return Claims{}, Token{}, ErrInvalidToken
	}
	rec, err := s.store.GetToken(ctx, c.ID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return Claims{}, Token{}, ErrInvalidToken
	}
	return c, rec, err
}

// signedBound bounds the JWTs whose checked claims a node keeps (a few
// hundred bytes each).
const signedBound = 10_000

// issuedBound bounds the sign-ins a node keeps for their codes (about a
// kilobyte each): 2,000 sign-ins a second for nodecache.TTL.
const issuedBound = 4_000

// signedClaims are the claims of a JWT signed by one of the keys, as
// checked in the last nodecache.TTL or now. A key retired since (on this
// node: at once) refuses its tokens, cached or not.
func (s *Service) signedClaims(ctx context.Context, raw string) (Claims, error) {
	sum := sha256.Sum256([]byte(raw))
	if c, ok := s.signed.Get(string(sum[:]), s.Clock.Now()); ok {
		if _, ok := s.keys.publicKey(ctx, c.kid, s.Clock.Now()); !ok {
			return Claims{}, ErrInvalidToken
		}
		return c.Claims, nil
	}
	tok, err := jwt.ParseSigned(raw, tokenAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return Claims{}, ErrInvalidToken
	}
	key, ok := s.keys.publicKey(ctx, tok.Headers[0].KeyID, s.Clock.Now())
	if !ok {
		return Claims{}, ErrInvalidToken
	}
	var c Claims
	if err := tok.Claims(key.Key, &c); err != nil {
		return Claims{}, ErrInvalidToken
	}
	s.signed.Put(string(sum[:]), signedToken{c, key.KeyID}, s.Clock.Now())
	return c, nil
}

// signedToken is a JWT's checked claims and the id of the key that signed it.
type signedToken struct {
	Claims
	kid string
}

// referentialClaims are the claims a referential token's record keeps, if
// it has a record and is within its time window.
func (s *Service) referentialClaims(ctx context.Context, raw string) (Claims, Token, error) {
	rec, err := s.store.GetToken(ctx, referentialID(raw))
	if errors.Is(err, latchkey.ErrNotFound) {
		return Claims{}, Token{}, ErrInvalidToken
	}
	if err != nil {
		return Claims{}, Token{}, err
	}
	var c Claims
	if rec.TokenFormat != "referential" || json.Unmarshal([]byte(rec.Claims), &c) != nil ||
		c.Claims.ValidateWithLeeway(jwt.Expected{Time: s.Clock.Now()}, 30*time.Second) != nil || c.Expiry == nil {
		return Claims{}, Token{}, ErrInvalidToken
	}
	return c, rec, nil
}

func applicationNotFound() error {
	return latchkey.Errorf(latchkey.CodeNotFound, "The requested resource was not found.")
}

// application returns an application of the tenant's realm or the API's 404.
func (s *Service) application(ctx context.Context, tenantID, realmID, appID string) (Application, error) {
	app, _, err := s.store.GetApplication(ctx, realmID, appID)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && app.TenantID != tenantID) {
		return Application{}, applicationNotFound()
	}
	return app, err
}

// ListTokens lists the token records an application issued.
func (s *Service) ListTokens(ctx context.Context, tenantID, realmID, appID string, f TokenFilter, opts latchkey.ListOptions) ([]Token, int, error) {
	if f.PrincipalType != "" && f.PrincipalType != "application" && f.PrincipalType != "identity" {
		return nil, 0, latchkey.InvalidField("principal_type", `must be "application" or "identity"`)
	}
	if _, err := s.application(ctx, tenantID, realmID, appID); err != nil {
		return nil, 0, err
	}
	return s.store.ListTokens(ctx, appID, f, opts)
}

// DeleteToken deletes a token record, which revokes the token.
func (s *Service) DeleteToken(ctx context.Context, tenantID, realmID, appID, tokenID string) error {
	if _, err := s.application(ctx, tenantID, realmID, appID); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteToken(ctx, appID, tokenID); err != nil {
			if errors.Is(err, latchkey.ErrNotFound) {
				return latchkey.NotFound("Token", tokenID, "token not found")
			}
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "token.delete", "Token", tokenID)
	})
}

// DeleteExpiredTokens removes the records of tokens that can no longer be used.
func (s *Service) DeleteExpiredTokens(ctx context.Context) (int, error) {
	return s.store.DeleteExpiredTokens(ctx, s.Clock.Now().Add(-time.Minute))
}
