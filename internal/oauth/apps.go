package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/directory"
)

// Management of applications and resource servers: the API's §9 and §11.

func (s *Service) record(ctx context.Context, tx Tx, tenantID, realmID, action, kind, id string) error {
	return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, action, kind, id))
}

var (
	errManagedApp = latchkey.Errorf(latchkey.CodeConflict, "managed applications cannot be changed or deleted")
	errManagedRS  = latchkey.Errorf(latchkey.CodeConflict, "managed resource servers cannot be changed or deleted")
	errRSInUse    = latchkey.Errorf(latchkey.CodeConflict, "resource server is used by an application or a role")
	errRSTaken    = latchkey.Errorf(latchkey.CodeConflict, "resource server identifier already exists")
)

func resourceServerNotFound(id string) error {
	return latchkey.NotFound("ResourceServer", id, "resource server not found")
}

// maxScopes bounds the scopes of a resource server or an application.
const maxScopes = 1000

func checkScopes(v *latchkey.Violations, field string, scopes []string) {
	if len(scopes) > maxScopes {
		v.Add(field, "more than 1000 scopes")
	}
	for i, sc := range scopes {
		if sc == "" || len(sc) > 128 || strings.ContainsAny(sc, " \t\n\"") {
			v.Add(field+"["+strconv.Itoa(i)+"]", "a scope is 1 to 128 characters without spaces or quotes")
		} else if slices.Index(scopes, sc) != i {
			v.Add(field+"["+strconv.Itoa(i)+"]", "listed twice")
		}
	}
}

func validateResourceServer(rs ResourceServer) error {
	var v latchkey.Violations
	if p := directory.NameProblem(rs.DisplayName, true, 64); p != "" {
		v.Add("display_name", p)
	}
	switch {
	case rs.Identifier == "":
		v.Add("identifier", "empty string")
	case len(rs.Identifier) > 1024:
		v.Add("identifier", "longer than 1024 characters")
	case rs.Identifier == ManagementAPI:
		v.Add("identifier", ManagementAPI+" is reserved")
	}
	checkScopes(&v, "scopes", rs.Scopes)
	return v.Err()
}

// CreateResourceServer validates and stores a resource server.
func (s *Service) CreateResourceServer(ctx context.Context, tenantID, realmID string, rs ResourceServer) (ResourceServer, error) {
	if rs.Scopes == nil {
		rs.Scopes = []string{}
	}
	if err := validateResourceServer(rs); err != nil {
		return rs, err
	}
	t := s.Clock.Now()
	rs.ID, rs.TenantID, rs.RealmID, rs.IsManaged, rs.CreateTime, rs.UpdateTime = latchkey.NewUUID(), tenantID, realmID, false, t, t
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := tx.CreateResourceServer(ctx, rs); err != nil {
			if errors.Is(err, latchkey.ErrDuplicate) {
				return errRSTaken
			}
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "resource_server.create", "ResourceServer", rs.ID)
	})
	return rs, err
}

func resourceServer(ctx context.Context, tx Tx, tenantID, realmID, id string) (ResourceServer, error) {
	rs, err := tx.GetResourceServer(ctx, realmID, id)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && rs.TenantID != tenantID) {
		return rs, resourceServerNotFound(id)
	}
	return rs, err
}

// GetResourceServer returns a resource server of the realm.
func (s *Service) GetResourceServer(ctx context.Context, tenantID, realmID, id string) (ResourceServer, error) {
	return resourceServer(ctx, s.store, tenantID, realmID, id)
}

// ListResourceServers returns a page of the realm's resource servers.
func (s *Service) ListResourceServers(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]ResourceServer, int, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, 0, err
	}
	return s.store.ListResourceServers(ctx, realmID, opts)
}

// UpdateResourceServer applies edit (display name, scopes; the identifier
// is immutable) to a resource server that Latchkey does not manage. Scopes
// it loses are taken from its roles and its applications' allowed scopes at
// once, in the same transaction: no token grants them any more.
func (s *Service) UpdateResourceServer(ctx context.Context, tenantID, realmID, id string, edit func(*ResourceServer) error) (rs ResourceServer, err error) {
	defer s.Forget() // once the change is committed, this node trusts nothing it cached
	err = s.store.Update(ctx, func(tx Tx) error {
		if rs, err = resourceServer(ctx, tx, tenantID, realmID, id); err != nil {
			return err
		}
		if rs.IsManaged {
			return errManagedRS
		}
		keep := rs
		keep.Scopes = slices.Clone(rs.Scopes) // edit may decode into rs.Scopes' array
		if err := edit(&rs); err != nil {
			return err
		}
		if rs.Identifier != keep.Identifier {
			return latchkey.InvalidField("identifier", "cannot be changed")
		}
		rs.ID, rs.TenantID, rs.RealmID, rs.IsManaged, rs.CreateTime, rs.UpdateTime = keep.ID, keep.TenantID, keep.RealmID, false, keep.CreateTime, s.Clock.Now()
		if err := validateResourceServer(rs); err != nil {
			return err
		}
		if err := tx.UpdateResourceServer(ctx, rs); err != nil {
			return err
		}
		removed := slices.DeleteFunc(slices.Clone(keep.Scopes), func(sc string) bool { return slices.Contains(rs.Scopes, sc) })
		if err := tx.RemoveScopesFromRoles(ctx, id, removed); err != nil {
			return err
		}
		apps, err := tx.RemoveScopesFromApplications(ctx, id, removed)
		if err != nil {
			return err
		}
		for _, app := range apps {
			if err := s.record(ctx, tx, tenantID, realmID, "application.update", "Application", app); err != nil {
				return err
			}
		}
		return tx.RecordEvent(ctx, audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, "resource_server.update", "ResourceServer", id).
			Changed(rs.DisplayName, keep, rs))
	})
	return rs, err
}

// DeleteResourceServer deletes a resource server no application or role uses.
func (s *Service) DeleteResourceServer(ctx context.Context, tenantID, realmID, id string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		rs, err := resourceServer(ctx, tx, tenantID, realmID, id)
		if err != nil {
			return err
		}
		if rs.IsManaged {
			return errManagedRS
		}
		if err := tx.DeleteResourceServer(ctx, realmID, id); err != nil {
			if errors.Is(err, latchkey.ErrInUse) {
				return errRSInUse
			}
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "resource_server.delete", "ResourceServer", id)
	})
}

// normalize fills in an application's defaults and the answers the
// reference gives for fields that are ignored on input.
func (a *Application) normalize() {
	pc := &a.ProtocolConfig
	pc.Confidentiality = or(pc.Confidentiality, "confidential")
	pc.PKCE = or(pc.PKCE, "disabled")
	pc.TokenFormat = or(pc.TokenFormat, "self_contained")
	pc.TokenConfiguration.TokenSigningAlgorithm = or(pc.TokenConfiguration.TokenSigningAlgorithm, "RS256")
	pc.TokenConfiguration.SubjectField = or(pc.TokenConfiguration.SubjectField, "id")
	if pc.RefreshTokenConfiguration.ExpiresAfter == 0 {
		pc.RefreshTokenConfiguration.ExpiresAfter = int(RefreshTokenTTL / time.Second)
	}
	pc.RefreshTokenConfiguration.RotationType = or(pc.RefreshTokenConfiguration.RotationType, Rotating)
	if pc.GrantType == nil {
		pc.GrantType = []string{"authorization_code"}
	}
	if pc.AllowedScopes == nil {
		pc.AllowedScopes = []string{}
	}
	if pc.RedirectURIs == nil {
		pc.RedirectURIs = []string{}
	}
	if pc.PostLogoutRedirectURIs == nil {
		pc.PostLogoutRedirectURIs = []string{}
	}
	pc.TokenEndpointAuthMethod = "client_secret_basic"
	if pc.Confidentiality == "public" {
		pc.TokenEndpointAuthMethod = "none"
	}
}

// backchannelURIProblem says why uri may not receive logout tokens, or ""
// when it may ("" is none): a redirect target's rules (Back-Channel Logout
// 1.0 §2.2: https, or http on loopback for development; no fragment) that
// is a web address.
func backchannelURIProblem(uri string) string {
	if uri == "" {
		return ""
	}
	if p := latchkey.RedirectURIProblem(uri); p != "" {
		return p
	}
	if u, _ := url.Parse(uri); u.Scheme != "https" && u.Scheme != "http" {
		return "must be an https URL (or http on localhost or a loopback address)"
	}
	return ""
}

func or(v, fallback string) string {
	if v != "" {
		return v
	}
	return fallback
}

func oneOf(v *latchkey.Violations, field, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.Add(field, "must be one of "+strings.Join(allowed, ", "))
	}
}

// validateApplication checks an application against its realm: the
// resource server and its scopes, the authenticator config.
func validateApplication(ctx context.Context, tx Tx, a Application) error {
	var v latchkey.Violations
	pc := a.ProtocolConfig
	if p := directory.NameProblem(a.DisplayName, true, 64); p != "" {
		v.Add("display_name", p)
	}
	oneOf(&v, "protocol_config.type", pc.Type, "oauth2", "oidc")
	oneOf(&v, "protocol_config.confidentiality", pc.Confidentiality, "confidential", "public")
	oneOf(&v, "protocol_config.pkce", pc.PKCE, "disabled", "plain", "s256")
	oneOf(&v, "protocol_config.token_format", pc.TokenFormat, "self_contained", "referential")
	oneOf(&v, "protocol_config.token_configuration.token_signing_algorithm", pc.TokenConfiguration.TokenSigningAlgorithm, TokenAlgorithms...)
	oneOf(&v, "protocol_config.token_configuration.subject_field", pc.TokenConfiguration.SubjectField, "id", "email", "username", "external_id")
	if e := pc.TokenConfiguration.ExpiresAfter; e <= 0 || e > 1<<32-1 {
		v.Add("protocol_config.token_configuration.expires_after", "must be a number of seconds from 1 to 4294967295")
	}
	if e := pc.RefreshTokenConfiguration.ExpiresAfter; e <= 0 || e > 1<<32-1 {
		v.Add("protocol_config.refresh_token_configuration.expires_after", "must be a number of seconds from 1 to 4294967295")
	}
	if e := pc.RefreshTokenConfiguration.AbsoluteLifetime; e < 0 || e > 1<<32-1 {
		v.Add("protocol_config.refresh_token_configuration.absolute_lifetime", "must be a number of seconds from 0 (no bound) to 4294967295")
	}
	oneOf(&v, "protocol_config.refresh_token_configuration.rotation_type", pc.RefreshTokenConfiguration.RotationType, Rotating, NonRotating)
	if pc.Confidentiality == "public" && pc.PKCE == "disabled" {
		v.Add("protocol_config.pkce", "public clients must use PKCE (plain or s256)")
	}
	if len(pc.GrantType) == 0 {
		v.Add("protocol_config.grant_type", "must list at least one grant")
	}
	for i, g := range pc.GrantType {
		oneOf(&v, "protocol_config.grant_type["+strconv.Itoa(i)+"]", g, grantTypes...)
	}
	if slices.Contains(pc.GrantType, "client_credentials") && pc.Confidentiality == "public" {
		v.Add("protocol_config.grant_type", "a public client cannot use client_credentials")
	}
	if slices.Contains(pc.GrantType, "authorization_code") && len(pc.RedirectURIs) == 0 {
		v.Add("protocol_config.redirect_uris", "the authorization_code grant needs at least one redirect URI")
	}
	for i, r := range pc.RedirectURIs {
		if p := latchkey.RedirectURIProblem(r); p != "" {
			v.Add("protocol_config.redirect_uris["+strconv.Itoa(i)+"]", p)
		}
	}
	for i, r := range pc.PostLogoutRedirectURIs {
		if p := latchkey.RedirectURIProblem(r); p != "" {
			v.Add("protocol_config.post_logout_redirect_uris["+strconv.Itoa(i)+"]", p)
		}
	}
	if p := backchannelURIProblem(pc.BackchannelLogoutURI); p != "" {
		v.Add("protocol_config.backchannel_logout_uri", p)
	}
	if (len(pc.PostLogoutRedirectURIs) > 0 || pc.BackchannelLogoutURI != "") && !slices.Contains(pc.GrantType, "authorization_code") {
		v.Add("protocol_config.grant_type", "only applications that sign users in have logout URIs")
	}
	if a.AuthenticatorConfigID != "" && !slices.Contains(pc.GrantType, "authorization_code") {
		v.Add("authenticator_config_id", "only applications that sign users in have an authenticator config")
	}
	checkScopes(&v, "protocol_config.allowed_scopes", pc.AllowedScopes)
	if err := v.Err(); err != nil {
		return err
	}
	if a.ResourceServerID == "" && len(pc.AllowedScopes) > 0 {
		return latchkey.InvalidField("protocol_config.allowed_scopes", "must be empty without a resource server")
	}
	if a.ResourceServerID != "" {
		rs, err := tx.GetResourceServer(ctx, a.RealmID, a.ResourceServerID)
		if errors.Is(err, latchkey.ErrNotFound) {
			return latchkey.InvalidField("resource_server_id", "resource server not found")
		}
		if err != nil {
			return err
		}
		for _, sc := range pc.AllowedScopes {
			if !slices.Contains(rs.Scopes, sc) {
				return latchkey.InvalidField("protocol_config.allowed_scopes", "scope "+sc+" is not a scope of the resource server")
			}
		}
	}
	if a.AuthenticatorConfigID != "" {
		if _, err := tx.ReferenceAuthenticatorConfig(ctx, a.RealmID, a.AuthenticatorConfigID); errors.Is(err, latchkey.ErrNotFound) {
			return latchkey.InvalidField("authenticator_config_id", "authenticator config not found")
		} else if err != nil {
			return err
		}
	}
	return nil
}

// revealed returns the application with its client secret, as the
// reference answers it (bi-cli reads it from the list), when the actor of
// ctx may read it (withSecret), and never for an application Latchkey
// manages: the API does not return those.
func (s *Service) revealed(ctx context.Context, tx Tx, a Application, sealed string) (Application, error) {
	a.normalize() // a setting added since the application was stored reads as its default
	if a.IsManaged {
		a.ProtocolConfig.ClientSecret = ""
		return a, nil
	}
	return s.withSecret(ctx, tx, a, sealed)
}

// withSecret returns the application with its client secret when the
// actor of ctx holds SecretsScope and every management scope the
// application's tokens may carry; else without.
func (s *Service) withSecret(ctx context.Context, tx Tx, a Application, sealed string) (Application, error) {
	a.ProtocolConfig.ClientSecret = ""
	if sealed == "" || len(beyond(ctx, []string{SecretsScope})) > 0 {
		return a, nil
	}
	if ms, err := managementScopes(ctx, tx, a.RealmID, a.ResourceServerID, a.ProtocolConfig.AllowedScopes); err != nil || len(beyond(ctx, ms)) > 0 {
		return a, err
	}
	secret, err := s.box.Open(sealed)
	a.ProtocolConfig.ClientSecret = string(secret)
	return a, err
}

// RevealSecret returns an application with its client secret, for an
// administrator who asks for it in the console: managed applications too,
// whose management scopes (all of them) only a full administrator holds.
// The actor of ctx must be allowed to read it (withSecret): else a 403.
func (s *Service) RevealSecret(ctx context.Context, tenantID, realmID, id string) (Application, error) {
	a, sealed, err := s.store.GetApplication(ctx, realmID, id)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && a.TenantID != tenantID) {
		return a, applicationNotFound()
	}
	if err != nil {
		return a, err
	}
	if sealed == "" {
		return a, latchkey.Errorf(latchkey.CodeConflict, "a public client has no secret")
	}
	if a, err = s.withSecret(ctx, s.store, a, sealed); err == nil && a.ProtocolConfig.ClientSecret == "" {
		err = latchkey.Errorf(latchkey.CodeForbidden, "reading this secret needs %s and every management scope of the application", SecretsScope)
	}
	return a, err
}

// mayGrant refuses an application whose tokens may carry management scopes
// that the actor of ctx does not hold.
func mayGrant(ctx context.Context, tx Tx, a Application) error {
	ms, err := managementScopes(ctx, tx, a.RealmID, a.ResourceServerID, a.ProtocolConfig.AllowedScopes)
	if err != nil {
		return err
	}
	return latchkey.MayGrant(ctx, ms)
}

// sealNewSecret gives a confidential application a new client secret.
func (s *Service) sealNewSecret(a *Application) string {
	if a.ProtocolConfig.Confidentiality != "confidential" {
		a.ProtocolConfig.ClientSecret = ""
		return ""
	}
	a.ProtocolConfig.ClientSecret = latchkey.RandomString(48)
	return s.box.Seal([]byte(a.ProtocolConfig.ClientSecret))
}

// CreateApplication validates and stores an application, generating its
// client id and, for a confidential client, its secret. Its management
// scopes must be the actor's own.
func (s *Service) CreateApplication(ctx context.Context, tenantID, realmID string, a Application) (Application, error) {
	a.normalize()
	t := s.Clock.Now()
	a.ID, a.TenantID, a.RealmID, a.IsManaged, a.Classification, a.CreateTime, a.UpdateTime = latchkey.NewUUID(), tenantID, realmID, false, "", t, t
	a.ProtocolConfig.ClientID = latchkey.RandomString(24)
	sealed := s.sealNewSecret(&a)
	err := s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := validateApplication(ctx, tx, a); err != nil {
			return err
		}
		if err := mayGrant(ctx, tx, a); err != nil {
			return err
		}
		if err := tx.CreateApplication(ctx, a, sealed); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "application.create", "Application", a.ID)
	})
	return a, err
}

// GetApplication returns an application of the realm, with its secret if
// the actor of ctx may read it.
func (s *Service) GetApplication(ctx context.Context, tenantID, realmID, id string) (Application, error) {
	a, sealed, err := s.store.GetApplication(ctx, realmID, id)
	if errors.Is(err, latchkey.ErrNotFound) || (err == nil && a.TenantID != tenantID) {
		return a, applicationNotFound()
	}
	if err != nil {
		return a, err
	}
	return s.revealed(ctx, s.store, a, sealed)
}

// ListApplications returns a page of the realm's applications, with the
// secrets the actor of ctx may read.
func (s *Service) ListApplications(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]Application, int, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, 0, err
	}
	apps, sealed, total, err := s.store.ListApplications(ctx, realmID, opts)
	for i := range apps {
		if err == nil {
			apps[i], err = s.revealed(ctx, s.store, apps[i], sealed[i])
		}
	}
	return apps, total, err
}

// UpdateApplication applies edit to an application Latchkey does not
// manage. A client that becomes confidential gets a secret; one that
// becomes public loses it. The actor of ctx must hold the management scopes
// of the application before and after: a token cannot redirect, rekey or
// widen a stronger application.
func (s *Service) UpdateApplication(ctx context.Context, tenantID, realmID, id string, edit func(*Application) error) (Application, error) {
	return s.updateApplication(ctx, tenantID, realmID, id, edit, false)
}

// RegenerateSecret gives a confidential application a new client secret;
// the old one stops working at once. Only the system (a latchkey command)
// regenerates the secret of an application Latchkey manages.
func (s *Service) RegenerateSecret(ctx context.Context, tenantID, realmID, id string) (Application, error) {
	return s.updateApplication(ctx, tenantID, realmID, id, func(a *Application) error {
		if a.ProtocolConfig.Confidentiality != "confidential" {
			return latchkey.Errorf(latchkey.CodeConflict, "a public client has no secret")
		}
		return nil
	}, true)
}

func (s *Service) updateApplication(ctx context.Context, tenantID, realmID, id string, edit func(*Application) error, newSecret bool) (a Application, err error) {
	defer s.Forget() // once the change is committed, this node trusts nothing it cached
	err = s.store.Update(ctx, func(tx Tx) error {
		var sealed string
		a, sealed, err = tx.GetApplication(ctx, realmID, id)
		if errors.Is(err, latchkey.ErrNotFound) || (err == nil && a.TenantID != tenantID) {
			return applicationNotFound()
		}
		if err != nil {
			return err
		}
		if a.IsManaged && (!newSecret || latchkey.ActorFrom(ctx).Type != "") {
			return errManagedApp
		}
		if err := mayGrant(ctx, tx, a); err != nil {
			return err
		}
		keep, before := a, audit.Snapshot(a)
		if err := edit(&a); err != nil {
			return err
		}
		a.ID, a.TenantID, a.RealmID, a.IsManaged, a.Classification, a.CreateTime, a.UpdateTime =
			keep.ID, keep.TenantID, keep.RealmID, keep.IsManaged, keep.Classification, keep.CreateTime, s.Clock.Now()
		a.ProtocolConfig.ClientID = keep.ProtocolConfig.ClientID
		a.normalize()
		rekeyed := newSecret || a.ProtocolConfig.Confidentiality != keep.ProtocolConfig.Confidentiality
		if rekeyed {
			sealed = s.sealNewSecret(&a)
		}
		if err := validateApplication(ctx, tx, a); err != nil {
			return err
		}
		if err := mayGrant(ctx, tx, a); err != nil {
			return err
		}
		if err := tx.UpdateApplication(ctx, a, sealed); err != nil {
			return err
		}
		// Before the old secret is revealed: only a new one is a change.
		e := audit.NewAt(ctx, s.Clock.Now(), tenantID, realmID, "application.update", "Application", id).
			Changed(a.DisplayName, before, a, "client_secret")
		if err := tx.RecordEvent(ctx, e); err != nil {
			return err
		}
		if !rekeyed { // a new secret is the writer's to see; the old one only a reader's
			a, err = s.revealed(ctx, tx, a, sealed)
		}
		return err
	})
	return a, err
}

// DeleteApplication deletes an application Latchkey does not manage, with
// the records of the tokens it issued.
func (s *Service) DeleteApplication(ctx context.Context, tenantID, realmID, id string) error {
	defer s.Forget() // once the change is committed, this node trusts nothing it cached
	return s.store.Update(ctx, func(tx Tx) error {
		a, _, err := tx.GetApplication(ctx, realmID, id)
		if errors.Is(err, latchkey.ErrNotFound) || (err == nil && a.TenantID != tenantID) {
			return applicationNotFound()
		}
		if err != nil {
			return err
		}
		if a.IsManaged {
			return errManagedApp
		}
		if err := tx.DeleteApplication(ctx, realmID, id); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "application.delete", "Application", id)
	})
}
