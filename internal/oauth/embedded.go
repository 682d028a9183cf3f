package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/passkey"
)

// AuthenticatorConfig returns the authenticator config an application signs
// its users in with; ok is false when it has none (the hosted page then).
func (s *Service) AuthenticatorConfig(ctx context.Context, tenantID, realmID, appID string) (c passkey.AuthenticatorConfig, ok bool, err error) {
	a, err := s.signInApplication(ctx, tenantID, realmID, appID)
	return a.config, a.ok, err
}

// ApplicationName is the display name of an application, as the hosted
// pages show it (from this node's cache, as signInApplication).
func (s *Service) ApplicationName(ctx context.Context, tenantID, realmID, appID string) (string, error) {
	a, err := s.signInApplication(ctx, tenantID, realmID, appID)
	return a.DisplayName, err
}

// signInApplication returns an application of the tenant's realm
// (latchkey.ErrNotFound when there is none) with its authenticator config.
// What this node read in the last ClientCacheTTL is not read again: every
// step of a sign-in needs both.
func (s *Service) signInApplication(ctx context.Context, tenantID, realmID, appID string) (signInApp, error) {
	key := appPath(tenantID, realmID, appID)
	if a, ok := s.signInApps.Get(key, s.Clock.Now()); ok {
		return a, nil
	}
	app, _, err := s.store.GetApplication(ctx, realmID, appID)
	if err == nil && app.TenantID != tenantID {
		err = latchkey.ErrNotFound
	}
	if err != nil {
		return signInApp{}, err
	}
	a := signInApp{Application: app}
	if app.AuthenticatorConfigID != "" {
		a.config, err = s.store.GetAuthenticatorConfig(ctx, app.RealmID, app.AuthenticatorConfigID)
		if err != nil && !errors.Is(err, latchkey.ErrNotFound) {
			return signInApp{}, err
		}
		a.ok = err == nil
	}
	if s.Entra.Configs != nil {
		eam, ok, err := s.Entra.Configs.EAM(ctx, tenantID, realmID, appID)
		if err != nil {
			return signInApp{}, err
		}
		if ok {
			a.eam = &eam
		}
	}
	s.signInApps.Put(key, a, s.Clock.Now())
	return a, nil
}

// Origin is what the request JWT tells the SDK of the browser that began the
// sign-in.
type Origin struct {
	IP        string `json:"ip"`
	UserAgent string `json:"ua"`
	Geo       string `json:"geo"`
	Referer   string `json:"ref"`
}

// sdkRequest is the claim set of the request JWT the embedded SDK is invoked
// with (../shared/reference/embedded-sdk-protocol.md, "Authentication").
type sdkRequest struct {
	jwt.Claims
	Audience      []string `json:"aud"` // empty, but present, as the SDK was seen to accept
	CID           string   `json:"cid"`
	CorrelationID string   `json:"correlation_id"`
	Verb          string   `json:"verb"`
	TransactionID string   `json:"transaction_id"`
	Authn         sdkAuthn `json:"authn"`
	Origin        Origin   `json:"origin"`
	// IndirectURI is required by the SDK's parser; Latchkey serves no
	// indirect (cross-device) sign-in, and the SDK does not call it here.
	IndirectURI string `json:"indirect_uri"`
}

type sdkAuthn struct {
	BaseURL             string                      `json:"base_url"`
	TenantID            string                      `json:"tid"`
	RealmID             string                      `json:"rid"`
	ApplicationID       string                      `json:"aid"`
	RedirectURI         string                      `json:"redirect_uri"`
	State               string                      `json:"state"`
	Mode                string                      `json:"mode"`
	LoginHint           string                      `json:"login_hint"`
	IndirectWriteNonce  string                      `json:"indirect_write_nonce"`
	Application         map[string]string           `json:"application"`
	AuthenticatorConfig passkey.AuthenticatorConfig `json:"authenticator_config"`
	Action              sdkAction                   `json:"action"`
}

type sdkAction struct {
	Prove sdkProve `json:"prove"`
}

type sdkProve struct {
	TransactionID string `json:"transaction_id"`
	Nonce         string `json:"nonce"`
	Request       string `json:"bi_req"`
	PolicyVersion string `json:"bi_pol_ver"`
}

// platformRequest is the SDK's instruction to prove with the passkey of the
// platform it runs on, base64url-encoded as the SDK expects it.
var platformRequest = base64.RawURLEncoding.EncodeToString([]byte(`[{"direct":{"id":"platform","arguments":[]}}]`))

// EmbeddedAuthenticateURL hands a sign-in begun at /authorize to the
// embedded SDK: the config's invoke URL + /bi-authenticate with a request
// JWT, signed by the token keys and naming the JWKS in its jku, that tells
// the SDK the sign-in's transaction and the nonce its proof must sign.
func (s *Service) EmbeddedAuthenticateURL(req AuthRequest, app Application, c passkey.AuthenticatorConfig, origin Origin) (string, error) {
	issuer := s.Issuer(req.TenantID, req.RealmID, req.ApplicationID)
	now := s.Clock.Now()
	claims := sdkRequest{
		Claims: jwt.Claims{Issuer: issuer, Subject: req.ID, ID: latchkey.RandomString(22),
			Expiry: jwt.NewNumericDate(req.ExpireTime), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), IssuedAt: jwt.NewNumericDate(now)},
		Audience: []string{}, CID: req.ID, CorrelationID: req.ID, Verb: "authenticate", TransactionID: req.ID,
		Authn: sdkAuthn{
			BaseURL: s.publicURL, TenantID: req.TenantID, RealmID: req.RealmID, ApplicationID: req.ApplicationID,
			RedirectURI: req.Params.RedirectURI, State: req.Params.State, Mode: "grant", LoginHint: req.Params.LoginHint,
			IndirectWriteNonce: latchkey.RandomString(22), Application: map[string]string{"display_name": app.DisplayName},
			AuthenticatorConfig: c,
			Action:              sdkAction{Prove: sdkProve{TransactionID: req.ID, Nonce: req.Challenge, Request: platformRequest, PolicyVersion: "v3"}},
		},
		Origin:      origin,
		IndirectURI: s.publicURL + "/v1/tenants/" + req.TenantID + "/realms/" + req.RealmID + "/transactions/" + req.ID + "/indirect",
	}
	raw, err := s.sign(SDKRequestAlgorithm, issuer, claims)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(c.Config.InvokeURL, "/") + "/bi-authenticate?" + url.Values{"request": {raw}}.Encode(), nil
}

var errWrongNonce = &Error{Code: "invalid_request", Description: "the proof does not sign this sign-in's nonce"}

// signsFor reports whether a proof's transaction and nonce are this
// sign-in's: the nonce is its challenge, compared in constant time.
func (req AuthRequest) signsFor(transactionID, nonce string) bool {
	return transactionID == req.ID && subtle.ConstantTimeCompare([]byte(nonce), []byte(req.Challenge)) == 1
}

// EmbeddedConfig returns an application that signs its users in through the
// embedded SDK, with its embedded authenticator config.
func (s *Service) EmbeddedConfig(ctx context.Context, tenantID, realmID, appID string) (Application, passkey.AuthenticatorConfig, error) {
	a, err := s.signInApplication(ctx, tenantID, realmID, appID)
	switch {
	case errors.Is(err, latchkey.ErrNotFound):
		err = applicationNotFound()
	case err == nil && (!a.ok || a.config.Config.Type != passkey.Embedded):
		err = latchkey.Errorf(latchkey.CodeBadRequest, "the application does not sign in through the embedded SDK")
	}
	return a.Application, a.config, err
}
