package sso

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/nodecache"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secretbox"
)

// Service manages SSO configs, their assignments, identity providers and
// launch mechanisms. Every change records an audit event in its transaction.
type Service struct {
	store Store
	box   *secretbox.Box
	// OAuth makes, changes and deletes the applications behind backed configs.
	OAuth *oauth.Service
	// PublicURL is the server's base URL, of the callbacks it answers.
	PublicURL string
	Clock     latchkey.Clock
	Logger    *slog.Logger
	// launches are the realms' launch mechanisms as CheckLaunch read them
	// in the last nodecache.TTL (the defaults of a realm that has none), by
	// realm: every sign-in asks.
	launches nodecache.Cache[FlowTypeConfig]
	// providers are the realms' SignInProviders as read in the last
	// nodecache.TTL, by realm: every hosted sign-in page offers them.
	providers nodecache.Cache[[]Config]
}

// NewService returns a Service over store whose secrets box seals.
func NewService(store Store, box *secretbox.Box, applications *oauth.Service, publicURL string) *Service {
	return &Service{store: store, box: box, OAuth: applications, PublicURL: publicURL, Logger: slog.New(slog.DiscardHandler)}
}

func notFound(id string) error { return latchkey.NotFound("SsoConfig", id, "sso config not found") }

func (s *Service) record(ctx context.Context, tx Tx, tenantID, realmID, action, kind, id string) error {
	return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, action, kind, id))
}

// In is a config as a request states it; nil fields are left as they are
// by Update. Payload is the payload object: whole for Create, the fields to
// change for Update.
type In struct {
	DisplayName *string
	IsMigrated  *bool
	Payload     json.RawMessage
}

func checkDisplayName(name string) error {
	if p := directory.NameProblem(name, true, 64); p != "" {
		return latchkey.InvalidField("display_name", p)
	}
	return nil
}

// preparePayload decodes in.Payload onto base (nil for a new config),
// validates it and takes its secret out: the new secret, or "" when the
// request gives none.
func preparePayload(data json.RawMessage, base Payload) (Payload, string, error) {
	if base == nil && len(data) == 0 {
		return nil, "", latchkey.InvalidField("payload", "missing")
	}
	p := base
	if len(data) > 0 {
		var err error
		if p, err = DecodePayload(data, base); err != nil {
			return nil, "", latchkey.WithFieldPrefix(err, "payload.")
		}
	}
	var v latchkey.Violations
	p.validate(&v)
	if err := v.Err(); err != nil {
		return nil, "", latchkey.WithFieldPrefix(err, "payload.")
	}
	var secret string
	if f := p.secret(); f != nil {
		secret, *f = *f, ""
	}
	clearReadOnly(p)
	return p, secret, nil
}

// clearReadOnly empties the fields the server fills on reads, which a
// request may carry (they are ignored) and the store does not keep.
func clearReadOnly(p Payload) {
	switch p := p.(type) {
	case backed:
		*p.backing() = Backing{}
	case *OIDCIdP:
		p.RedirectURI, p.IdentityProviderID = "", ""
	}
	switch p := p.(type) {
	case *Bookmark:
		p.ApplicationTileID = ""
	case *GenericOIDC:
		p.ApplicationTileID = ""
	case *SAML:
		p.IdentityProviderCerts, p.IdPInitiatedURL, p.SPInitiatedURL, p.ApplicationID, p.AuthenticatorConfigID = nil, "", "", "", ""
	case *WSFed:
		p.ApplicationID, p.AuthenticatorConfigID, p.ApplicationTileID, p.IdPSSOURL, p.IdPIssuerURL, p.MetadataURL = "", "", "", "", "", ""
	}
}

// application is the oauth application a backed payload signs in as.
func application(displayName string, b backed) oauth.Application {
	redirects, confidentiality, pkce := b.application()
	return oauth.Application{DisplayName: displayName, ProtocolConfig: oauth.ProtocolConfig{
		Type: "oidc", Confidentiality: confidentiality, PKCE: pkce, RedirectURIs: slices.Clone(redirects),
		GrantType:          []string{"authorization_code"},
		TokenConfiguration: oauth.TokenConfiguration{ExpiresAfter: 3600},
	}}
}

// Create validates and stores a config; a backed one gets its application,
// whose client secret (if confidential) this answer alone shows.
func (s *Service) Create(ctx context.Context, tenantID, realmID string, in In) (Config, error) {
	now := s.Clock.Now()
	c := Config{ID: latchkey.NewUUID(), TenantID: tenantID, RealmID: realmID, CreateTime: now, UpdateTime: now}
	if in.DisplayName == nil {
		return Config{}, latchkey.InvalidField("display_name", "missing")
	}
	c.DisplayName = *in.DisplayName
	if err := checkDisplayName(c.DisplayName); err != nil {
		return Config{}, err
	}
	if in.IsMigrated != nil {
		c.IsMigrated = *in.IsMigrated
	}
	p, secret, err := preparePayload(in.Payload, nil)
	if err != nil {
		return Config{}, err
	}
	c.Payload, c.Type = p, p.typeName()
	if secret != "" {
		c.SecretSealed = s.box.Seal([]byte(secret))
	}
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return Config{}, err
	}
	var app oauth.Application
	if b, ok := p.(backed); ok {
		if app, err = s.OAuth.CreateApplication(ctx, tenantID, realmID, application(c.DisplayName, b)); err != nil {
			return Config{}, err
		}
		c.ApplicationID = app.ID
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateSSOConfig(ctx, c); err != nil {
			return latchkey.IfNotFound(err, directory.RealmNotFound, realmID)
		}
		return s.record(ctx, tx, tenantID, realmID, "sso_config.create", "SsoConfig", c.ID)
	})
	if err != nil {
		s.dropApplication(ctx, c)
		return Config{}, err
	}
	s.providers.Clear()
	if b, ok := p.(backed); ok {
		s.fillBacking(c, b.backing(), app)
		return c, nil
	}
	return c, s.fill(ctx, &c)
}

// dropApplication deletes the application of a config that is not (or no
// longer) stored.
func (s *Service) dropApplication(ctx context.Context, c Config) {
	if c.ApplicationID == "" {
		return
	}
	if err := s.OAuth.DeleteApplication(ctx, c.TenantID, c.RealmID, c.ApplicationID); err != nil && latchkey.ErrorCode(err) != latchkey.CodeNotFound {
		s.Logger.Warn("delete the application of an SSO config", "application", c.ApplicationID, "err", err)
	}
}

func (s *Service) fillBacking(c Config, b *Backing, app oauth.Application) {
	issuer := s.OAuth.Issuer(c.TenantID, c.RealmID, app.ID)
	realmBase, _, _ := strings.Cut(issuer, "/applications/")
	pc := app.ProtocolConfig
	auth := []string{pc.TokenEndpointAuthMethod}
	if pc.TokenEndpointAuthMethod == "client_secret_basic" {
		auth = append(auth, "client_secret_post")
	}
	authenticator, resourceServer := app.AuthenticatorConfigID, app.ResourceServerID
	responseTypes := []string{"code"}
	if c.Type == TypeEntraID { // Entra's implicit request: an ID token, form-posted
		responseTypes = []string{"id_token"}
	}
	*b = Backing{
		ApplicationID: app.ID, AuthenticatorConfigID: &authenticator, ResourceServerID: &resourceServer,
		ClientID: pc.ClientID, ClientSecret: pc.ClientSecret,
		OIDCConfiguration: &OIDCConfiguration{
			Issuer: issuer, AuthorizationEndpoint: issuer + "/authorize", TokenEndpoint: issuer + "/token",
			UserinfoEndpoint: issuer + "/userinfo", JWKSURI: issuer + "/.well-known/jwks.json",
			ResponseTypesSupported: responseTypes, TokenEndpointAuthMethodsSupported: auth,
			GrantTypesSupported: slices.Clone(pc.GrantType), IntrospectEndpoint: realmBase + "/introspect",
		},
	}
}

// fill sets the read-only fields of a config's payload: its application's
// (with the client secret when the actor of ctx may read it), or its
// callback.
func (s *Service) fill(ctx context.Context, c *Config) error {
	switch p := c.Payload.(type) {
	case backed:
		app, err := s.OAuth.GetApplication(ctx, c.TenantID, c.RealmID, c.ApplicationID)
		if err != nil {
			return err
		}
		s.fillBacking(*c, p.backing(), app)
	case *OIDCIdP:
		p.IdentityProviderID, p.RedirectURI = c.ID, s.CallbackURL(c.TenantID, c.RealmID, "sso-configs", c.ID)
	case *WSFed:
		s.fillWSFed(*c, p)
	}
	return nil
}

// CallbackURL is where an upstream identity provider (kind
// "identity-providers", or "sso-configs" for generic_oidc_idp and okta_idp
// configs) sends users back to Latchkey: the redirect URI to register
// there. Upstream sign-in serves it.
func (s *Service) CallbackURL(tenantID, realmID, kind, id string) string {
	return s.PublicURL + "/v1/tenants/" + tenantID + "/realms/" + realmID + "/" + kind + "/" + id + "/callback"
}

// Config returns a config of a realm with its typed payload (c.Payload.(type)),
// its read-only fields filled; the SAML, WS-Federation and upstream engines
// read configs so. Its secret is Secret's.
func (s *Service) Config(ctx context.Context, tenantID, realmID, id string) (Config, error) {
	c, err := s.store.GetSSOConfig(ctx, tenantID, realmID, id)
	if err != nil {
		return c, latchkey.IfNotFound(err, notFound, id)
	}
	return c, s.fill(ctx, &c)
}

// Secret opens a config's upstream secret ("" for none).
func (s *Service) Secret(c Config) (string, error) {
	if c.SecretSealed == "" {
		return "", nil
	}
	b, err := s.box.Open(c.SecretSealed)
	return string(b), err
}

// List returns a page of a realm's configs.
func (s *Service) List(ctx context.Context, tenantID, realmID string, f ListFilter, opts latchkey.ListOptions) ([]Config, int, error) {
	for i, t := range f.Types {
		if !slices.Contains(Types, canonical(t)) {
			return nil, 0, latchkey.InvalidField("type", "must be one of "+strings.Join(Types, ", "))
		}
		f.Types[i] = canonical(t)
	}
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, 0, err
	}
	cs, total, err := s.store.ListSSOConfigs(ctx, tenantID, realmID, f, opts)
	return s.filled(ctx, cs, total, err)
}

func (s *Service) filled(ctx context.Context, cs []Config, total int, err error) ([]Config, int, error) {
	for i := range cs {
		if err == nil {
			err = s.fill(ctx, &cs[i])
		}
	}
	return cs, total, err
}

// Update changes a config: its display name, is_migrated and the payload
// fields in.Payload names (its type cannot change). The application of a
// backed config follows.
func (s *Service) Update(ctx context.Context, tenantID, realmID, id string, in In) (Config, error) {
	c, err := s.store.GetSSOConfig(ctx, tenantID, realmID, id)
	if err != nil {
		return c, latchkey.IfNotFound(err, notFound, id)
	}
	if in.DisplayName != nil {
		c.DisplayName = *in.DisplayName
		if err := checkDisplayName(c.DisplayName); err != nil {
			return Config{}, err
		}
	}
	if in.IsMigrated != nil {
		c.IsMigrated = *in.IsMigrated
	}
	p, secret, err := preparePayload(in.Payload, c.Payload)
	if err != nil {
		return Config{}, err
	}
	c.Payload = p
	if secret != "" {
		c.SecretSealed = s.box.Seal([]byte(secret))
	}
	// The application follows the config; should the config's own write
	// fail, the application is put back as it was (they are two services'
	// writes, as at Create).
	var before oauth.Application
	if b, ok := p.(backed); ok {
		if before, err = s.followApplication(ctx, c, application(c.DisplayName, b)); err != nil {
			return Config{}, err
		}
	}
	c.UpdateTime = s.Clock.Now()
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.UpdateSSOConfig(ctx, c); err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		return s.record(ctx, tx, tenantID, realmID, "sso_config.update", "SsoConfig", id)
	})
	if err != nil {
		if before.ID != "" {
			if _, rerr := s.followApplication(ctx, c, before); rerr != nil && latchkey.ErrorCode(rerr) != latchkey.CodeNotFound {
				s.Logger.Warn("restore the application of an SSO config", "application", c.ApplicationID, "err", rerr)
			}
		}
		return Config{}, err
	}
	s.providers.Clear()
	return c, s.fill(ctx, &c)
}

// followApplication gives the application of c the fields of want that
// the config decides, and returns the application as it was.
func (s *Service) followApplication(ctx context.Context, c Config, want oauth.Application) (before oauth.Application, err error) {
	_, err = s.OAuth.UpdateApplication(ctx, c.TenantID, c.RealmID, c.ApplicationID, func(a *oauth.Application) error {
		before = *a
		a.DisplayName = want.DisplayName
		a.ProtocolConfig.RedirectURIs = want.ProtocolConfig.RedirectURIs
		a.ProtocolConfig.Confidentiality = want.ProtocolConfig.Confidentiality
		a.ProtocolConfig.PKCE = want.ProtocolConfig.PKCE
		return nil
	})
	return before, err
}

// Delete deletes a config, its assignments and its application.
func (s *Service) Delete(ctx context.Context, tenantID, realmID, id string) error {
	var c Config
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.GetSSOConfig(ctx, tenantID, realmID, id); err != nil {
			return latchkey.IfNotFound(err, notFound, id)
		}
		if err := tx.DeleteSSOConfig(ctx, tenantID, realmID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "sso_config.delete", "SsoConfig", id)
	})
	if err == nil {
		s.providers.Clear()
		s.dropApplication(ctx, c)
	}
	return err
}

// SignInProviders are the SSO configs a realm's hosted sign-in page offers
// to sign in through: all its generic_oidc_idp and okta_idp configs, by id,
// as read in the last nodecache.TTL (a change made on this node counts at
// once; the callers must not change the slice). Who may use one is decided
// after the upstream vouched (its assignments).
func (s *Service) SignInProviders(ctx context.Context, tenantID, realmID string) ([]Config, error) {
	key, now := tenantID+"/"+realmID, s.Clock.Now()
	if cs, ok := s.providers.Get(key, now); ok {
		return cs, nil
	}
	var out []Config
	opts := latchkey.ListOptions{Limit: 100, SkipTotal: true}
	for {
		page, _, err := s.List(ctx, tenantID, realmID, ListFilter{Types: []string{TypeOIDCIdP, TypeOktaIdP}}, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < opts.Limit {
			s.providers.Put(key, out, now)
			return out, nil
		}
		opts.After = page[len(page)-1].ID
	}
}

// ConfigOfApplication returns the id of the config an application of the
// realm signs in for, "" when it backs none.
func (s *Service) ConfigOfApplication(ctx context.Context, tenantID, realmID, applicationID string) (string, error) {
	if _, err := s.OAuth.GetApplication(ctx, tenantID, realmID, applicationID); err != nil {
		return "", err
	}
	c, err := s.store.GetSSOConfigOfApplication(ctx, tenantID, realmID, applicationID)
	if errors.Is(err, latchkey.ErrNotFound) {
		return "", nil
	}
	return c.ID, err
}

// TestResult is what Test finds of a config.
type TestResult struct {
	IdentityProviders []TestOutcome `json:"identity_providers"`
	OIDCApplications  []TestOutcome `json:"oidc_applications"`
}

// TestOutcome is one check of Test: an upstream provider's or an
// application's (the API's IdentityProviderTestResponse and its
// oidc_applications items).
type TestOutcome struct {
	IdentityProviderID string `json:"identity_provider_id,omitempty"`
	ApplicationID      string `json:"application_id,omitempty"`
	DisplayName        string `json:"display_name"`
	IsSuccess          bool   `json:"is_success"`
	StatusCode         string `json:"status_code"`
	ErrorContext       string `json:"error_context,omitempty"`
}

// Test checks, without calling out, that what a config relies on is there:
// the application of a backed config (as an oidc_applications item), the
// endpoints of an upstream provider (as an identity_providers item).
// Other configs have nothing to check: both lists are empty.
func (s *Service) Test(ctx context.Context, tenantID, realmID, id string) (TestResult, error) {
	r := TestResult{IdentityProviders: []TestOutcome{}, OIDCApplications: []TestOutcome{}}
	c, err := s.store.GetSSOConfig(ctx, tenantID, realmID, id)
	if err != nil {
		return r, latchkey.IfNotFound(err, notFound, id)
	}
	switch p := c.Payload.(type) {
	case backed:
		o := TestOutcome{ApplicationID: c.ApplicationID, DisplayName: c.DisplayName, IsSuccess: true, StatusCode: "200"}
		if _, err := s.OAuth.GetApplication(ctx, tenantID, realmID, c.ApplicationID); err != nil {
			o.IsSuccess, o.StatusCode, o.ErrorContext = false, "404", err.Error()
		}
		r.OIDCApplications = append(r.OIDCApplications, o)
	case *OIDCIdP:
		o := TestOutcome{IdentityProviderID: c.ID, DisplayName: c.DisplayName, IsSuccess: true, StatusCode: "200"}
		var v latchkey.Violations
		p.validate(&v)
		if c.SecretSealed == "" && p.PKCE == "disabled" {
			v.Add("client_secret", "a client without a secret must use PKCE")
		}
		if len(v) > 0 {
			o.IsSuccess, o.StatusCode, o.ErrorContext = false, "400", v[0].Field+": "+v[0].Description
		}
		r.IdentityProviders = append(r.IdentityProviders, o)
	}
	return r, nil
}
