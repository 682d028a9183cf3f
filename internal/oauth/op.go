package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	sessions "github.com/latchkey/latchkey/internal/session"
)

// AuthParams are what a client asked for at /authorize.
type AuthParams struct {
	ClientID            string `json:"client_id"`
	RedirectURI         string `json:"redirect_uri"`
	ResponseType        string `json:"response_type"`
	Scope               string `json:"scope"`
	State               string `json:"state"`
	Nonce               string `json:"nonce"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
	LoginHint           string `json:"login_hint"`
	Prompt              string `json:"prompt"`
	// ResponseMode is query (or empty) or form_post; request objects are
	// refused, so they are not stored (authparams.go).
	ResponseMode string `json:"response_mode,omitempty"`
	Request      string `json:"-"`
	RequestURI   string `json:"-"`
	// Of the browser's session (sso.go): whether it may sign in without a ceremony.
	MaxAge      string `json:"max_age,omitempty"`
	ACRValues   string `json:"acr_values,omitempty"`
	IDTokenHint string `json:"-"`
	// Claims is the claims request (OIDC Core §5.5), read only of Entra
	// ID's requests; EAM is what such a sign-in keeps of it (entra.go).
	Claims string      `json:"-"`
	EAM    *EAMRequest `json:"eam,omitempty"`
}

// AuthRequest is one sign-in, from /authorize until its code is redeemed.
type AuthRequest struct {
	ID            string
	TenantID      string
	RealmID       string
	ApplicationID string
	Params        AuthParams
	// Challenge is the WebAuthn challenge the sign-in must sign.
	Challenge    string
	IdentityID   string // who signed in; "" until then
	CredentialID string
	AuthTime     time.Time
	CodeHash     string
	CodeUsed     bool
	// What its ID token says of the sign-in: the browser's session (sid,
	// "" for the embedded SDK), amr and acr.
	SessionID  string
	AMR        []string
	ACR        string
	CreateTime time.Time
	ExpireTime time.Time
}

// Lifetimes of a sign-in and of its code.
const (
	authRequestTTL = 10 * time.Minute
	codeTTL        = time.Minute
)

// RedirectError is an error the client learns at its redirect URI
// (RFC 6749 §4.1.2.1); URL is where to send the browser, or, when FormPost,
// what to post to RedirectURI (see FormFields).
type RedirectError struct {
	Err         *Error
	URL         string
	FormPost    bool
	RedirectURI string
}

func (e *RedirectError) Error() string { return e.Err.Error() }

// redirect adds the answer to a redirect URI's query.
func redirect(uri string, values url.Values) string {
	u, _ := url.Parse(uri)
	q := u.Query()
	for k, v := range values {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func redirectError(p AuthParams, code, description string) error {
	v := url.Values{"error": {code}, "error_description": {safeDescription(description)}}
	if p.State != "" {
		v.Set("state", p.State)
	}
	return &RedirectError{Err: &Error{code, description}, URL: redirect(p.RedirectURI, v), FormPost: p.FormPost(), RedirectURI: p.RedirectURI}
}

// FormFields are what a form_post response posts to redirectURI: the
// parameters that the response URL adds to the redirect URI's own query.
func FormFields(redirectURI, to string) url.Values {
	base, _ := url.Parse(redirectURI)
	u, err := url.Parse(to)
	if err != nil {
		return url.Values{}
	}
	fields := u.Query()
	for k := range base.Query() {
		delete(fields, k)
	}
	return fields
}

// Authorize starts a sign-in. Errors about the client or its redirect URI
// are *Error (never redirected to an unchecked URI); the others are
// *RedirectError. current is the browser's live session of the realm with
// its identity (Service.SignedIn), or nil: when it signs the request in
// without a ceremony (sso.go), signedIn is where to send the browser with
// the code; else req is pending until a passkey signs in.
func (s *Service) Authorize(ctx context.Context, tenantID, realmID, appID string, p AuthParams, current *SignedIn) (req AuthRequest, app Application, signedIn string, err error) {
	req, app, err = s.authorize(ctx, tenantID, realmID, appID, p, current != nil)
	if err != nil {
		return req, app, "", err
	}
	if current != nil && req.Params.EAM == nil { // Entra asks for a passkey, not a session
		// Stored in the code's transaction when the session signs in.
		if signedIn, err = s.signInWithSession(ctx, req, app, *current); signedIn != "" || err != nil {
			return req, app, signedIn, err
		}
	}
	started := s.signInEvent(ctx, audit.SignInStarted, tenantID, realmID, appID, req.ID, nil, "")
	return req, app, "", s.store.SaveAuthRequest(ctx, req, &started)
}

// authorize checks an authorization request and returns the sign-in it
// starts, not yet stored.
func (s *Service) authorize(ctx context.Context, tenantID, realmID, appID string, p AuthParams, hasSession bool) (AuthRequest, Application, error) {
	a, err := s.signInApplication(ctx, tenantID, realmID, appID)
	app := a.Application
	if errors.Is(err, latchkey.ErrNotFound) {
		return AuthRequest{}, app, &Error{"invalid_client", "no such application"}
	}
	if err != nil {
		return AuthRequest{}, app, err
	}
	pc := app.ProtocolConfig
	switch {
	case p.ClientID != pc.ClientID:
		return AuthRequest{}, app, &Error{"invalid_client", "client_id does not name this application"}
	case p.RedirectURI == "":
		return AuthRequest{}, app, &Error{"invalid_request", "redirect_uri is required"}
	case !slices.Contains(pc.RedirectURIs, p.RedirectURI):
		return AuthRequest{}, app, &Error{"invalid_request", "redirect_uri is not registered for this application"}
	case latchkey.RedirectURIProblem(p.RedirectURI) != "": // registered before targets were checked
		return AuthRequest{}, app, errUnsafeRedirect
	case a.eam != nil: // Entra ID's request to an external authentication method (entra.go)
		return s.authorizeEAM(ctx, a, p)
	case p.ResponseType != "code":
		return AuthRequest{}, app, redirectError(p, "unsupported_response_type", "only response_type=code is supported")
	case !slices.Contains(pc.GrantType, "authorization_code"):
		return AuthRequest{}, app, redirectError(p, "unauthorized_client", "the application may not use the authorization code grant")
	}
	if err := checkAuthParams(p); err != nil {
		return AuthRequest{}, app, err
	}
	if err := checkPKCE(pc, p); err != nil {
		return AuthRequest{}, app, err
	}
	if _, err := grantedScopes(withoutOIDC(p.Scope), pc.AllowedScopes); err != nil {
		return AuthRequest{}, app, redirectError(p, "invalid_scope", err.(*Error).Description)
	}
	if err := checkSessionParams(p); err != nil {
		return AuthRequest{}, app, err
	}
	if !hasSession && hasPrompt(p, "none") {
		return AuthRequest{}, app, redirectError(p, "login_required", "no one is signed in; a passkey must sign in")
	}
	return s.newAuthRequest(tenantID, realmID, appID, p), app, nil
}

// newAuthRequest is a new sign-in of p, with its WebAuthn challenge.
func (s *Service) newAuthRequest(tenantID, realmID, appID string, p AuthParams) AuthRequest {
	t := s.Clock.Now()
	return AuthRequest{ID: latchkey.RandomString(32), TenantID: tenantID, RealmID: realmID, ApplicationID: appID,
		Params: p, Challenge: base64.RawURLEncoding.EncodeToString([]byte(latchkey.RandomString(32))),
		CreateTime: t, ExpireTime: t.Add(authRequestTTL)}
}

// oidcScopes are the OpenID Connect scopes, granted to every OIDC client
// beside its resource server's scopes (offline_access only with the
// refresh_token grant).
var oidcScopes = []string{"openid", "profile", "email", "offline_access"}

// ignoredScopes are the OpenID Connect scopes that Latchkey does not honour:
// ignored wherever they are asked for (OIDC Core §5.4), never refused.
var ignoredScopes = []string{"address", "phone"}

// withoutOIDC is scope without the OpenID Connect scopes: what is left are
// scopes of the application's resource server.
func withoutOIDC(scope string) string {
	f := strings.Fields(scope)
	f = slices.DeleteFunc(f, func(s string) bool { return slices.Contains(oidcScopes, s) || slices.Contains(ignoredScopes, s) })
	return strings.Join(f, " ")
}

func checkPKCE(pc ProtocolConfig, p AuthParams) error {
	required := pc.PKCE == "plain" || pc.PKCE == "s256" || pc.Confidentiality == "public"
	switch {
	case p.CodeChallenge == "" && required:
		return redirectError(p, "invalid_request", "code_challenge is required (PKCE)")
	case p.CodeChallenge == "":
		return nil
	case p.CodeChallengeMethod == "S256":
		return nil
	case p.CodeChallengeMethod == "plain" || p.CodeChallengeMethod == "":
		if pc.PKCE == "s256" || pc.Confidentiality == "public" {
			return redirectError(p, "invalid_request", "code_challenge_method must be S256")
		}
		return nil
	}
	return redirectError(p, "invalid_request", "code_challenge_method must be S256 or plain")
}

var (
	errFinished       = &Error{"invalid_request", "this sign-in has finished or expired; start again from the application"}
	errUnsafeRedirect = &Error{"invalid_request", "redirect_uri is not a safe redirect target; the application must register another"}
)

// PendingAuthRequest returns a sign-in that has not finished yet.
func (s *Service) PendingAuthRequest(ctx context.Context, tenantID, realmID, appID, id string) (AuthRequest, error) {
	req, err := s.store.GetAuthRequest(ctx, id)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && (req.TenantID != tenantID || req.RealmID != realmID || req.ApplicationID != appID)) {
		return req, &Error{"invalid_request", "no such sign-in; start again from the application"}
	}
	if err != nil {
		return req, err
	}
	if req.IdentityID != "" || s.Clock.Now().After(req.ExpireTime) {
		return req, errFinished
	}
	// Checked again before the code or denial is sent there (an account
	// page's sign-in, of no application, sends nothing anywhere).
	if req.ApplicationID != "" && latchkey.RedirectURIProblem(req.Params.RedirectURI) != "" {
		return req, errUnsafeRedirect
	}
	return req, nil
}

// Approve finishes a sign-in for an identity, if the realm's policy lets
// it use the application (else *Denied): it issues the code and returns it
// with where to send the browser. req need only name the sign-in (id,
// tenant, realm, application) and its challenge: a sign-in that is not
// pending, or whose challenge differs, is refused as PendingAuthRequest
// refuses it.
func (s *Service) Approve(ctx context.Context, req AuthRequest, identity directory.Identity, credentialID string) (code, redirectURL string, err error) {
	return s.approve(ctx, req, identity, credentialID, nil, false, Upstream{}, false)
}

// ApproveInSession is Approve for a sign-in that the browser's session
// vouches for (its passkey just signed in, or it signs in without one):
// the code's ID token carries the session's sid, auth_time, amr and acr,
// and the session records the application, in the code's transaction.
// A session that ended meanwhile is ErrSessionEnded.
func (s *Service) ApproveInSession(ctx context.Context, req AuthRequest, identity directory.Identity, ss sessions.Session) (code, redirectURL string, err error) {
	return s.approve(ctx, req, identity, ss.CredentialID, &ss, false, Upstream{}, false)
}

// ApproveInNewSession is ApproveInSession for a session that the
// sign-in's passkey began just now and that is not stored yet
// (session.Service.Begin): it is stored in the code's transaction. When
// that stores nothing (an error, a denial), neither is the session: the
// caller stores it (the passkey did sign in).
func (s *Service) ApproveInNewSession(ctx context.Context, req AuthRequest, identity directory.Identity, ss sessions.Session) (code, redirectURL string, err error) {
	return s.approve(ctx, req, identity, ss.CredentialID, &ss, false, Upstream{}, true)
}

// ApproveUpstream is ApproveInSession for a session that the upstream
// identity provider via began just now: the sign-in's events name it.
func (s *Service) ApproveUpstream(ctx context.Context, req AuthRequest, identity directory.Identity, ss sessions.Session, via Upstream) (code, redirectURL string, err error) {
	return s.approve(ctx, req, identity, ss.CredentialID, &ss, false, via, false)
}

// approve is Approve, ApproveInSession, ApproveInNewSession and
// ApproveUpstream; with unstored, req (a sign-in with a session) is stored
// in the code's transaction, and with freshSession, ss is.
func (s *Service) approve(ctx context.Context, req AuthRequest, identity directory.Identity, credentialID string, ss *sessions.Session, unstored bool, via Upstream, freshSession bool) (code, redirectURL string, err error) {
	var denied *Denied
	if err := s.allowed(ctx, identity, req.ApplicationID); errors.As(err, &denied) {
		return "", "", s.denied(ctx, req, identity, credentialID, denied, via)
	} else if err != nil {
		return "", "", err
	}
	if req.Params.EAM != nil {
		if err := s.eamApproval(ctx, req, identity, credentialID); err != nil {
			return "", "", err
		}
	}
	code = latchkey.RandomString(43) // an EAM sign-in's is never shown: its answer is an ID token
	at := s.Clock.Now()
	fin := req
	fin.IdentityID, fin.CredentialID = identity.ID, credentialID
	fin.AuthTime, fin.AMR, fin.ACR = at.UTC().Truncate(time.Second), sdkAMR, PasskeyACR
	if ss != nil {
		fin.SessionID, fin.AuthTime, fin.AMR, fin.ACR = ss.ID, ss.AuthTime, ss.AMR, ss.ACR
	}
	fin.CodeHash = hashCode(code)
	fin.ExpireTime = at.Add(codeTTL)
	// The sign-in's events go in the code's transaction: no write of their own.
	allowedEvent := s.signInEvent(ctx, audit.SignInAllowed, req.TenantID, req.RealmID, req.ApplicationID, req.ID, &identity, credentialID)
	allowedEvent.Reason = via.Reason("")
	events := []audit.Event{allowedEvent}
	if unstored {
		events = slices.Insert(events, 0, s.signInEvent(ctx, audit.SignInStarted, req.TenantID, req.RealmID, req.ApplicationID, req.ID, nil, ""))
	}
	approval := Approval{Request: fin, New: unstored, At: at, TouchSession: ss != nil && ss.TouchDue(at), Events: events}
	if freshSession {
		approval.Session, approval.TouchSession = ss, false
	}
	fin, err = s.store.Approve(ctx, approval)
	if errors.Is(err, latchkey.ErrNotFound) {
		return "", "", s.whyNotPending(ctx, req)
	} else if err != nil {
		return "", "", err
	}
	if req.Params.EAM != nil {
		to, err := s.eamAnswer(req, fin.AuthTime)
		return "", to, err
	}
	s.issued.Put(fin.CodeHash, issuedCode{fin, identity}, at)
	v := url.Values{"code": {code}}
	if fin.Params.State != "" {
		v.Set("state", fin.Params.State)
	}
	return code, redirect(fin.Params.RedirectURI, v), nil
}

// whyNotPending says why a sign-in could not be finished.
func (s *Service) whyNotPending(ctx context.Context, req AuthRequest) error {
	pending, err := s.PendingAuthRequest(ctx, req.TenantID, req.RealmID, req.ApplicationID, req.ID)
	if err == nil && !pending.signsFor(req.ID, req.Challenge) {
		err = errWrongNonce
	}
	if err == nil { // finished between the two reads
		err = errFinished
	}
	return err
}

// Deny returns where to send the browser of a sign-in that was refused.
func Deny(req AuthRequest, description string) string {
	return redirectError(req.Params, "access_denied", description).(*RedirectError).URL
}

func hashCode(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// verifyPKCE checks the code_verifier against the challenge of /authorize.
func verifyPKCE(p AuthParams, verifier string) bool {
	if p.CodeChallenge == "" {
		return verifier == ""
	}
	want := verifier
	if p.CodeChallengeMethod == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		want = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(p.CodeChallenge)) == 1
}

// subject is the sub claim of an identity per the application's subject_field.
func subject(field string, i directory.Identity) string {
	switch field {
	case "email":
		return i.Traits.PrimaryEmailAddress
	case "username":
		return i.Traits.Username
	case "external_id":
		return i.Traits.ExternalID
	}
	return i.ID
}

// Metadata is an application's OpenID Provider metadata (OIDC Discovery
// §3, RFC 8414): exactly what its endpoints honour for it.
func (s *Service) Metadata(ctx context.Context, tenantID, realmID, appID string) (map[string]any, error) {
	app, err := s.application(ctx, tenantID, realmID, appID)
	if err != nil {
		return nil, err
	}
	pc := app.ProtocolConfig
	issuer := s.Issuer(tenantID, realmID, appID)
	var scopes []string // an oauth2 application grants no OpenID Connect scope
	if pc.Type == "oidc" {
		scopes = []string{"openid", "profile", "email"}
	}
	if pc.Type == "oidc" && slices.Contains(pc.GrantType, "refresh_token") {
		scopes = append(scopes, "offline_access")
	}
	authMethods, challenges := []string{"client_secret_basic", "client_secret_post"}, []string{"S256", "plain"}
	if pc.Confidentiality == "public" {
		authMethods = []string{"none"}
	}
	if pc.PKCE == "s256" || pc.Confidentiality == "public" {
		challenges = []string{"S256"}
	}
	m := map[string]any{
		"issuer":                                     issuer,
		"authorization_endpoint":                     issuer + "/authorize",
		"token_endpoint":                             issuer + "/token",
		"userinfo_endpoint":                          issuer + "/userinfo",
		"revocation_endpoint":                        issuer + "/revoke",
		"jwks_uri":                                   issuer + "/.well-known/jwks.json",
		"scopes_supported":                           append(scopes, pc.AllowedScopes...),
		"response_types_supported":                   []string{"code"},
		"response_modes_supported":                   responseModes,
		"grant_types_supported":                      pc.GrantType,
		"subject_types_supported":                    []string{"public"},
		"id_token_signing_alg_values_supported":      []string{string(tokenAlgorithm(app))},
		"token_endpoint_auth_methods_supported":      authMethods,
		"revocation_endpoint_auth_methods_supported": authMethods,
		"code_challenge_methods_supported":           challenges,
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr",
			"azp", "name", "given_name", "family_name", "preferred_username", "updated_at", "email", "sid", "acr"},
		"claim_types_supported":            []string{"normal"},
		"claims_parameter_supported":       false,
		"request_parameter_supported":      false,
		"request_uri_parameter_supported":  false,
		"require_request_uri_registration": false,
		"prompt_values_supported":          []string{"none", "login", "consent", "select_account"},
		"acr_values_supported":             []string{PasskeyACR, EmailCodeACR},
		// RP-Initiated and Back-Channel Logout 1.0 (logout.go).
		"end_session_endpoint":                 issuer + "/end_session",
		"backchannel_logout_supported":         true,
		"backchannel_logout_session_supported": true,
	}
	if pc.Confidentiality != "public" { // a public client has no credentials to introspect with
		m["introspection_endpoint"] = issuer + "/introspect"
		m["introspection_endpoint_auth_methods_supported"] = authMethods
	}
	if a, err := s.signInApplication(ctx, tenantID, realmID, appID); err == nil && a.eam != nil {
		eamMetadata(m)
	}
	return m, nil
}

// RedirectOrigins are the web origins of an application's redirect URIs
// (scheme, host and port of those that are http or https): a browser app
// served there may call its token, userinfo, revocation and introspection
// endpoints (CORS).
func (s *Service) RedirectOrigins(ctx context.Context, tenantID, realmID, appID string) []string {
	a, err := s.signInApplication(ctx, tenantID, realmID, appID)
	if err != nil {
		return nil
	}
	var origins []string
	for _, r := range a.ProtocolConfig.RedirectURIs {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			continue
		}
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins
}

// introspectRefresh answers for a refresh token: active until it expires
// or, when it rotates, is spent.
func (s *Service) introspectRefresh(ctx context.Context, tenantID, realmID, appID, raw string) (Introspection, error) {
	rt, err := s.store.GetRefreshToken(ctx, hashCode(raw))
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && (rt.TenantID != tenantID || rt.RealmID != realmID ||
		(appID != "" && rt.ApplicationID != appID) || rt.Used || s.Clock.Now().After(rt.ExpireTime))) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	app, err := s.application(ctx, tenantID, realmID, rt.ApplicationID)
	if err != nil {
		return Introspection{}, err
	}
	i, err := s.store.GetIdentity(ctx, realmID, rt.IdentityID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	return Introspection{Active: true, Scope: rt.Scope, ClientID: app.ProtocolConfig.ClientID,
		Subject: subject(app.ProtocolConfig.TokenConfiguration.SubjectField, i), Issuer: s.Issuer(tenantID, realmID, app.ID),
		Expiry: rt.ExpireTime.Unix(), IssuedAt: rt.CreateTime.Unix(), TokenType: "refresh_token"}, nil
}

// Introspection is the answer of token introspection (RFC 7662 §2.2).
type Introspection struct {
	Active    bool            `json:"active"`
	Scope     string          `json:"scope,omitempty"`
	ClientID  string          `json:"client_id,omitempty"`
	Subject   string          `json:"sub,omitempty"`
	Audience  Audience        `json:"aud,omitempty"`
	Issuer    string          `json:"iss,omitempty"`
	Expiry    int64           `json:"exp,omitempty"`
	IssuedAt  int64           `json:"iat,omitempty"`
	TokenType string          `json:"token_type,omitempty"`
	ID        string          `json:"jti,omitempty"`
	Custom    json.RawMessage `json:"bi_custom,omitempty"`
}

// Introspect tells whether an access token of the realm is active, and what
// it grants, to the holder of a management token; a token that is not, or
// of another realm, is just inactive.
func (s *Service) Introspect(ctx context.Context, tenantID, realmID, raw string) (Introspection, error) {
	return s.introspect(ctx, tenantID, realmID, "", raw)
}

var errPublicIntrospection = &Error{"invalid_client", "a public client cannot introspect tokens"}

// IntrospectAsClient answers an application that authenticates with its
// own client credentials (req's tenant, realm, client id and secret, and
// application: "" finds it by client id in the realm). Only the tokens
// issued to it can be active: another application's token is inactive for
// it, like a token that does not exist. A public client, which has no
// secret, cannot introspect.
func (s *Service) IntrospectAsClient(ctx context.Context, req TokenRequest, raw string) (Introspection, error) {
	if req.ApplicationID == "" {
		id, err := s.store.ApplicationIDByClientID(ctx, req.RealmID, req.ClientID)
		if errors.Is(err, latchkey.ErrNotFound) {
			return Introspection{}, errInvalidClient
		}
		if err != nil {
			return Introspection{}, err
		}
		req.ApplicationID = id
	}
	app, err := s.authenticateClient(ctx, req)
	if err != nil {
		return Introspection{}, err
	}
	if app.ProtocolConfig.Confidentiality == "public" {
		return Introspection{}, errPublicIntrospection
	}
	return s.introspect(ctx, req.TenantID, req.RealmID, app.ID, raw)
}

// introspect answers for an access or refresh token of the realm, issued
// by the application appID ("" for any).
func (s *Service) introspect(ctx context.Context, tenantID, realmID, appID, raw string) (Introspection, error) {
	c, rec, err := s.verifiedClaims(ctx, raw)
	if errors.Is(err, ErrInvalidToken) && !strings.Contains(raw, ".") {
		return s.introspectRefresh(ctx, tenantID, realmID, appID, raw)
	}
	if errors.Is(err, ErrInvalidToken) || (err == nil && (c.TenantID != tenantID || (c.RealmID != realmID && c.RealmID != "*") ||
		(appID != "" && rec.ApplicationID != appID))) {
		return Introspection{}, nil
	}
	if err != nil {
		return Introspection{}, err
	}
	return Introspection{Active: true, Scope: c.Scope, ClientID: c.AZP, Subject: c.Subject, Audience: c.Audience,
		Issuer: c.Issuer, Expiry: c.Expiry.Time().Unix(), IssuedAt: c.IssuedAt.Time().Unix(), TokenType: "Bearer", ID: c.ID,
		Custom: c.Custom}, nil
}
