package oauth

// Latchkey as an external authentication method (EAM) of Microsoft Entra ID,
// as Microsoft's "external method provider reference" describes it. Entra
// posts an OpenID Connect implicit request (response_type id_token,
// response_mode form_post, scope openid) to the application behind an
// entra_id_external_auth_methods SSO config, with an id_token_hint that
// Entra signed naming its user and a claims request for acr and amr. The
// hint is checked against Entra's keys and mapped to an identity of the
// realm; a passkey of that identity signs in on the hosted page; and the
// answer is an ID token for Entra (sub, tid and oid echoed from the hint,
// the acr and amr it asked for) that the page posts to Entra's redirect
// URI. It is a branch of the authorization request (authorize, approve),
// not a second OP: client, redirect URI, pending sign-in, policy, events
// and keys are the application's as for any sign-in.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/filter"
	"github.com/latchkey/latchkey/internal/passkey"
)

// EAMConfigs are the SSO configs that make applications external
// authentication methods of Entra ID (sso.Service).
type EAMConfigs interface {
	// EAM returns the entra_id_external_auth_methods config that the
	// application backs; ok is false when it backs none.
	EAM(ctx context.Context, tenantID, realmID, appID string) (eam EAM, ok bool, err error)
	// Allowed decides whether identity is assigned to the config.
	Allowed(ctx context.Context, tenantID, realmID, configID string, identity directory.Identity) (bool, error)
}

// EAM is an entra_id_external_auth_methods config as the OP needs it.
type EAM struct {
	ConfigID string
	// Cloud is the payload's discover_endpoint: which of EntraClouds
	// issues the hints and receives the answer.
	Cloud string
}

// EntraClouds are Entra ID's authorities, by a config's discover_endpoint.
var EntraClouds = map[string]string{
	"global_azure":           "https://login.microsoftonline.com",
	"azure_us_government":    "https://login.microsoftonline.us",
	"microsoft_azure_vianet": "https://login.partner.microsoftonline.cn",
}

// EntraRedirectPath is where, under its authority, Entra takes an EAM's answer.
const EntraRedirectPath = "/common/federation/externalauthprovider"

// entraKeysPath is where, under its authority, Entra publishes the keys
// that sign its hints (its discovery's jwks_uri).
const entraKeysPath = "/common/discovery/v2.0/keys"

// Entra is how the service answers Entra ID as its EAM.
type Entra struct {
	// Configs tell which applications are EAMs; nil makes none one.
	Configs EAMConfigs
	// Authority replaces every cloud's authority (EntraClouds) when set:
	// an Entra stand-in in tests, or a proxy in a closed network.
	Authority string
	// AppIDs are audiences that hints may carry besides the config's client
	// id: the application ID of the provider's own app registration in
	// Entra, which Microsoft's hints name.
	AppIDs []string
	// Fetch GETs the body of a URL (Entra's keys): the node's HTTP client,
	// as this package makes no requests of its own.
	Fetch func(ctx context.Context, url string) ([]byte, error)

	mu   sync.Mutex
	keys map[string]entraKeySet // by JWKS URL
}

type entraKeySet struct {
	set     jose.JSONWebKeySet
	fetched time.Time
}

// How long Entra's keys are trusted before they are fetched again, and how
// often at most a hint with an unknown kid fetches them (Entra rolls its
// keys without notice).
const (
	entraKeysTTL     = 24 * time.Hour
	entraKeysRefetch = 5 * time.Minute
)

// authority is the Entra authority of a cloud.
func (e *Entra) authority(cloud string) string {
	if e.Authority != "" {
		return strings.TrimRight(e.Authority, "/")
	}
	return EntraClouds[cloud]
}

var errEntraUnavailable = errors.New("Entra ID's signing keys cannot be fetched")

// key returns the key kid of the key set at jwksURL, fetched when missing,
// old, or (at most every entraKeysRefetch) when kid is unknown.
func (e *Entra) key(ctx context.Context, jwksURL, kid string, now time.Time) (jose.JSONWebKey, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ks, ok := e.keys[jwksURL]
	found := ks.set.Key(kid)
	if !ok || now.Sub(ks.fetched) > entraKeysTTL || (len(found) == 0 && now.Sub(ks.fetched) > entraKeysRefetch) {
		set, err := e.fetch(ctx, jwksURL)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("%w: %v", errEntraUnavailable, err)
		}
		if e.keys == nil {
			e.keys = map[string]entraKeySet{}
		}
		e.keys[jwksURL] = entraKeySet{set: set, fetched: now}
		found = set.Key(kid)
	}
	if len(found) == 0 {
		return jose.JSONWebKey{}, errors.New("its kid is not one of Entra ID's keys")
	}
	return found[0], nil
}

func (e *Entra) fetch(ctx context.Context, jwksURL string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if e.Fetch == nil {
		return set, errors.New("no way to fetch them is configured")
	}
	body, err := e.Fetch(ctx, jwksURL)
	if err == nil {
		err = json.Unmarshal(body, &set)
	}
	return set, err
}

// EAMRequest is what an EAM sign-in keeps of Entra's request
// (AuthParams.EAM): the config, the identity the hint names, and what the
// answer echoes or was asked for.
type EAMRequest struct {
	ConfigID   string `json:"config_id"`
	IdentityID string `json:"identity_id"`
	Subject    string `json:"sub"`
	TID        string `json:"tid,omitempty"`
	OID        string `json:"oid,omitempty"`
	ACR        string `json:"acr"`
	AMR        string `json:"amr"`
}

// Why an EAM sign-in was refused before a passkey signed in (EAMRefused.Kind).
const (
	EAMUnknown    = "unknown"    // no identity of the realm is the hint's user
	EAMSuspended  = "suspended"  // the identity is suspended
	EAMUnassigned = "unassigned" // the identity is not assigned to the config
)

// EAMRefused is an EAM sign-in refused for its identity: a page says why
// (Kind), and its button posts Redirect's access_denied to Entra.
type EAMRefused struct {
	Kind     string
	Redirect *RedirectError
}

func (e *EAMRefused) Error() string { return e.Redirect.Error() }

// hintClaims are the claims of Entra's id_token_hint that the answer needs.
type hintClaims struct {
	jwt.Claims
	TID               string `json:"tid"`
	OID               string `json:"oid"`
	PreferredUsername string `json:"preferred_username"`
}

// hintMaxAge is how old a hint may be: Entra issues it already expired (it
// is no credential), so its iat, not its exp, dates it; Entra itself gives
// up on the sign-in about 10 minutes after it sent the browser. hintSkew is
// the clock skew allowed the other way.
const (
	hintMaxAge = 10 * time.Minute
	hintSkew   = 5 * time.Minute
)

// verifyHint checks an id_token_hint: RS256 by one of authority's keys,
// issued by one of its tenants (iss {authority}/{tenant}/v2.0), for the
// config's client id or one of Entra.AppIDs, dated by iat within
// hintMaxAge, naming a sub.
func (s *Service) verifyHint(ctx context.Context, authority, clientID, raw string) (hintClaims, error) {
	var c hintClaims
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(tok.Headers) != 1 {
		return c, errors.New("it is not a JWT signed with RS256")
	}
	now := s.Clock.Now()
	key, err := s.Entra.key(ctx, authority+entraKeysPath, tok.Headers[0].KeyID, now)
	if err != nil {
		return c, err
	}
	if err := tok.Claims(key.Key, &c); err != nil {
		return c, errors.New("its signature does not verify with Entra ID's keys")
	}
	tenant, ok := strings.CutPrefix(c.Issuer, authority+"/")
	if tenant, ok = strings.CutSuffix(tenant, "/v2.0"); !ok || tenant == "" || strings.Contains(tenant, "/") {
		return c, errors.New("its issuer is not an Entra ID tenant of " + authority)
	}
	if !c.Audience.Contains(clientID) && !slices.ContainsFunc(s.Entra.AppIDs, c.Audience.Contains) {
		return c, errors.New("its audience is neither this config's client id nor Latchkey's app id")
	}
	switch {
	case c.IssuedAt == nil || now.Sub(c.IssuedAt.Time()) > hintMaxAge:
		return c, errors.New("it was issued more than 10 minutes ago")
	case c.IssuedAt.Time().Sub(now) > hintSkew || (c.NotBefore != nil && c.NotBefore.Time().Sub(now) > hintSkew):
		return c, errors.New("it is not valid yet")
	case c.Subject == "":
		return c, errors.New("it names no sub")
	}
	return c, nil
}

// hintedIdentity is the identity of the realm that a hint names: the one
// whose external_id is the hint's oid (Entra's object id, as SCIM
// provisioning from Entra can set it), else whose username, else whose
// primary e-mail address is its preferred_username (the user's UPN). An
// attribute that two identities share names neither. ok is false when
// none is found.
func (s *Service) hintedIdentity(ctx context.Context, realmID string, h hintClaims) (directory.Identity, bool, error) {
	for _, by := range []struct{ attr, value string }{
		{"traits.external_id", h.OID}, {"traits.username", h.PreferredUsername}, {"traits.primary_email_address", h.PreferredUsername},
	} {
		if by.value == "" {
			continue
		}
		found, _, err := s.store.ListIdentities(ctx, realmID, latchkey.ListOptions{
			Filter: &filter.Compare{Attr: by.attr, Op: filter.Eq, Value: by.value}, Limit: 2, SkipTotal: true})
		if err != nil {
			return directory.Identity{}, false, err
		}
		if len(found) == 1 {
			return found[0], true, nil
		}
	}
	return directory.Identity{}, false, nil
}

// The acr values Entra may ask for that a passkey, a possession factor,
// satisfies, the one of Microsoft's example first; and the amr values a passkey may answer with, best first:
// fido (a FIDO2 authenticator), hwk and swk (a key's proof of possession).
var (
	passkeyEntraACRs = []string{"possessionorinherence", "possession", "knowledgeorpossession", "knowledgeorpossessionorinherence"}
	passkeyEntraAMRs = []string{"fido", "hwk", "swk", "pop"}
)

// eamClaimsRequest picks, from the claims request parameter (OIDC Core
// §5.5) of Entra's request, the acr and amr values the answer carries: the
// first requested acr that a passkey satisfies and the best amr that was
// requested (possessionorinherence and fido when none is asked for).
func eamClaimsRequest(raw string) (acr, amr string, err error) {
	type request struct {
		Value  string   `json:"value"`
		Values []string `json:"values"`
	}
	var claims struct {
		IDToken struct {
			ACR *request `json:"acr"`
			AMR *request `json:"amr"`
		} `json:"id_token"`
	}
	if raw != "" && json.Unmarshal([]byte(raw), &claims) != nil {
		return "", "", errors.New("the claims parameter is not a JSON claims request")
	}
	pick := func(r *request, ours []string) string {
		if r == nil || (r.Value == "" && len(r.Values) == 0) {
			return ours[0]
		}
		for _, v := range ours {
			if v == r.Value || slices.Contains(r.Values, v) {
				return v
			}
		}
		return ""
	}
	acr, amr = pick(claims.IDToken.ACR, passkeyEntraACRs), pick(claims.IDToken.AMR, passkeyEntraAMRs)
	if acr == "" || amr == "" {
		return "", "", errors.New("no requested acr or amr value is one a passkey satisfies")
	}
	return acr, amr, nil
}

// authorizeEAM checks Entra's request to an EAM application a, whose
// client and registered redirect URI authorize checked, and returns the
// sign-in it starts: pending until a passkey of the hinted identity signs in.
func (s *Service) authorizeEAM(ctx context.Context, a signInApp, p AuthParams) (AuthRequest, Application, error) {
	app, eam := a.Application, a.eam
	authority := s.Entra.authority(eam.Cloud)
	switch {
	case p.RedirectURI != authority+EntraRedirectPath:
		return AuthRequest{}, app, &Error{"invalid_request", "redirect_uri is not Entra ID's " + authority + EntraRedirectPath}
	case a.ok && a.config.Config.Type == passkey.Embedded:
		return AuthRequest{}, app, &Error{"invalid_request", "an Entra ID external authentication method signs in on the hosted page; remove the application's embedded authenticator config"}
	case p.ResponseMode != ResponseModeFormPost:
		p.ResponseMode = ResponseModeFormPost // Entra takes answers posted only
		return AuthRequest{}, app, redirectError(p, "invalid_request", "response_mode must be form_post")
	case p.ResponseType != "id_token":
		return AuthRequest{}, app, redirectError(p, "unsupported_response_type", "an external authentication method answers response_type=id_token")
	case !slices.Contains(strings.Fields(p.Scope), "openid"):
		return AuthRequest{}, app, redirectError(p, "invalid_scope", "scope must include openid")
	case p.IDTokenHint == "":
		return AuthRequest{}, app, redirectError(p, "invalid_request", "id_token_hint is required: Entra ID names its user with it")
	}
	if err := checkAuthParams(p); err != nil {
		return AuthRequest{}, app, err
	}
	acr, amr, err := eamClaimsRequest(p.Claims)
	if err != nil {
		return AuthRequest{}, app, redirectError(p, "invalid_request", err.Error())
	}
	hint, err := s.verifyHint(ctx, authority, app.ProtocolConfig.ClientID, p.IDTokenHint)
	if errors.Is(err, errEntraUnavailable) {
		return AuthRequest{}, app, redirectError(p, "temporarily_unavailable", err.Error())
	} else if err != nil {
		return AuthRequest{}, app, redirectError(p, "invalid_request", "id_token_hint: "+err.Error())
	}
	req := s.newAuthRequest(app.TenantID, app.RealmID, app.ID, p)
	i, ok, err := s.hintedIdentity(ctx, app.RealmID, hint)
	if err != nil {
		return AuthRequest{}, app, err
	}
	if !ok {
		if err := s.SignInRefused(ctx, req, directory.Identity{}, "", "Entra ID's hint names no identity of the realm"); err != nil {
			return AuthRequest{}, app, err
		}
		return req, app, &EAMRefused{Kind: EAMUnknown, Redirect: redirectError(p, "access_denied", "no account here is the user Entra ID names").(*RedirectError)}
	}
	if err := s.eamAllowed(ctx, req, eam.ConfigID, i); err != nil {
		return req, app, err
	}
	req.Params.EAM = &EAMRequest{ConfigID: eam.ConfigID, IdentityID: i.ID, Subject: hint.Subject, TID: hint.TID, OID: hint.OID, ACR: acr, AMR: amr}
	req.Params.IDTokenHint, req.Params.Claims = "", ""
	return req, app, nil
}

// eamAllowed refuses an EAM sign-in whose identity is suspended or not
// assigned to the config, recording the refusal in the sign-in log.
func (s *Service) eamAllowed(ctx context.Context, req AuthRequest, configID string, i directory.Identity) error {
	kind, reason := "", ""
	if !i.Active() {
		kind, reason = EAMSuspended, "the identity is suspended"
	} else if ok, err := s.Entra.Configs.Allowed(ctx, req.TenantID, req.RealmID, configID, i); err != nil {
		return err
	} else if !ok {
		kind, reason = EAMUnassigned, "the identity is not assigned to the Entra ID SSO config"
	}
	if kind == "" {
		return nil
	}
	if err := s.denied(ctx, req, i, "", &Denied{Reason: reason}, Upstream{}); !errors.As(err, new(*Denied)) {
		return err
	}
	return &EAMRefused{Kind: kind, Redirect: redirectError(req.Params, "access_denied", DeniedDescription).(*RedirectError)}
}

// eamClaims are the claims of the ID token that answers Entra.
type eamClaims struct {
	IDClaims
	TID string `json:"tid,omitempty"`
	OID string `json:"oid,omitempty"`
}

// eamTokenTTL is how long the answer lives: Entra checks it at once.
const eamTokenTTL = 10 * time.Minute

// eamAnswer is where the browser of the finished EAM sign-in req goes: its
// ID token (and state) for Entra's redirect URI, posted there. Microsoft
// checks it with RS256 only, whatever the application signs with.
func (s *Service) eamAnswer(req AuthRequest, authTime time.Time) (string, error) {
	e, now := req.Params.EAM, s.Clock.Now().Truncate(time.Second)
	issuer := s.Issuer(req.TenantID, req.RealmID, req.ApplicationID)
	c := eamClaims{IDClaims: IDClaims{
		Claims: jwt.Claims{Issuer: issuer, Subject: e.Subject, Expiry: jwt.NewNumericDate(now.Add(eamTokenTTL)),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ID: latchkey.RandomString(32)},
		Audience: Audience{req.Params.ClientID}, Nonce: req.Params.Nonce, AuthTime: authTime.Unix(),
		ACR: e.ACR, AMR: []string{e.AMR},
	}, TID: e.TID, OID: e.OID}
	raw, err := s.sign(jose.RS256, issuer, c)
	if err != nil {
		return "", err
	}
	v := url.Values{"id_token": {raw}}
	if req.Params.State != "" {
		v.Set("state", req.Params.State)
	}
	return redirect(req.Params.RedirectURI, v), nil
}

// eamApproval refuses the finish of an EAM sign-in by any identity but the
// one the hint named, or one no longer allowed (eamAllowed).
func (s *Service) eamApproval(ctx context.Context, req AuthRequest, i directory.Identity, credentialID string) error {
	if i.ID != req.Params.EAM.IdentityID {
		return s.denied(ctx, req, i, credentialID, &Denied{Reason: "the passkey is not of the account that Entra ID names"}, Upstream{})
	}
	var refused *EAMRefused
	if err := s.eamAllowed(ctx, req, req.Params.EAM.ConfigID, i); errors.As(err, &refused) {
		return &Denied{Reason: refused.Kind}
	} else if err != nil {
		return err
	}
	return nil
}

// eamMetadata makes an EAM application's discovery say what Entra ID reads
// there before it sends anyone: the implicit flow's id_token, posted, signed
// with RS256, and the claims request honoured for acr and amr.
func eamMetadata(m map[string]any) {
	m["response_types_supported"], m["response_modes_supported"] = []string{"id_token"}, []string{ResponseModeFormPost}
	m["grant_types_supported"], m["id_token_signing_alg_values_supported"] = []string{"implicit"}, []string{string(jose.RS256)}
	m["claims_parameter_supported"], m["acr_values_supported"] = true, passkeyEntraACRs
	m["claims_supported"] = []string{"iss", "sub", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "acr", "amr", "tid", "oid"}
}
