package sso

import (
	"cmp"
	"context"
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
)

// IdentityProvider is an external OIDC provider that vouches for users of
// a realm (the API's Identity Providers, protocol oidc_idp).
type IdentityProvider struct {
	ID             string            `json:"id"`
	TenantID       string            `json:"tenant_id"`
	RealmID        string            `json:"realm_id"`
	DisplayName    string            `json:"display_name"`
	ProtocolConfig IdPProtocolConfig `json:"protocol_config"`
	CreateTime     time.Time         `json:"create_time"`
	UpdateTime     time.Time         `json:"update_time"`
	// ClientSecretSealed is the upstream client secret sealed by secretbox.
	ClientSecretSealed string `json:"-"`
}

// IdPProtocolConfig is an identity provider's oidc_idp configuration. The
// client secret is answered only by the create that sets it (as "" on
// later reads); redirect_url is read-only.
type IdPProtocolConfig struct {
	Type                 string   `json:"type"`
	ClientID             string   `json:"client_id"`
	ClientSecret         string   `json:"client_secret"`
	TokenScopes          []string `json:"token_scopes"`
	IdentityAttribute    string   `json:"identity_attribute"`
	PKCE                 string   `json:"pkce"`
	JWKSURL              string   `json:"jwks_url"`
	TokenURL             string   `json:"token_url"`
	AuthorizeURL         string   `json:"authorize_url"`
	RedirectURL          string   `json:"redirect_url"`
	IdentifyingClaimName string   `json:"identifying_claim_name"`
}

func idpNotFound(id string) error {
	return latchkey.NotFound("IdentityProvider", id, "identity provider not found")
}

// IdPIn is an identity provider as a request states it; Update changes the
// fields that are set, and the protocol config's fields that it names.
type IdPIn struct {
	DisplayName    *string
	ProtocolConfig json.RawMessage
}

// prepare applies in to p and validates it, sealing a new client secret.
func (s *Service) prepareIdP(p *IdentityProvider, in IdPIn, create bool) (secret string, err error) {
	if in.DisplayName != nil {
		p.DisplayName = *in.DisplayName
	}
	if p.DisplayName == "" && create {
		return "", latchkey.InvalidField("display_name", "missing")
	}
	if err := checkDisplayName(p.DisplayName); err != nil {
		return "", err
	}
	if len(in.ProtocolConfig) == 0 && create {
		return "", latchkey.InvalidField("protocol_config", "missing")
	}
	pc := &p.ProtocolConfig
	if len(in.ProtocolConfig) > 0 {
		pc.ClientSecret = ""
		if err := decodeStrict(in.ProtocolConfig, pc); err != nil {
			return "", latchkey.WithFieldPrefix(err, "protocol_config.")
		}
	}
	var v latchkey.Violations
	oneOf(&v, "type", pc.Type, "oidc_idp")
	if pc.TokenScopes == nil {
		pc.TokenScopes = []string{}
	}
	pc.PKCE = cmp.Or(pc.PKCE, "disabled")
	checkUpstream(&v, pc.ClientID, pc.PKCE, pc.IdentifyingClaimName, pc.IdentityAttribute, pc.TokenScopes, "token_scopes",
		map[string]string{"jwks_url": pc.JWKSURL, "token_url": pc.TokenURL, "authorize_url": pc.AuthorizeURL})
	if create && pc.ClientSecret == "" && pc.PKCE == "disabled" {
		v.Add("client_secret", "missing: a client without a secret must use PKCE")
	}
	if err := v.Err(); err != nil {
		return "", latchkey.WithFieldPrefix(err, "protocol_config.")
	}
	secret, pc.ClientSecret, pc.RedirectURL = pc.ClientSecret, "", ""
	if secret != "" {
		p.ClientSecretSealed = s.box.Seal([]byte(secret))
	}
	return secret, nil
}

func (s *Service) idpAnswer(p IdentityProvider, secret string) IdentityProvider {
	p.ProtocolConfig.ClientSecret = secret
	p.ProtocolConfig.RedirectURL = s.CallbackURL(p.TenantID, p.RealmID, "identity-providers", p.ID)
	return p
}

// CreateIdentityProvider validates and stores an identity provider; its
// client secret is sealed and shown only in this answer.
func (s *Service) CreateIdentityProvider(ctx context.Context, tenantID, realmID string, in IdPIn) (IdentityProvider, error) {
	now := s.Clock.Now()
	p := IdentityProvider{ID: latchkey.NewUUID(), TenantID: tenantID, RealmID: realmID, CreateTime: now, UpdateTime: now}
	secret, err := s.prepareIdP(&p, in, true)
	if err != nil {
		return IdentityProvider{}, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if _, err := directory.LookupRealm(ctx, tx, tenantID, realmID); err != nil {
			return err
		}
		if err := tx.CreateIdentityProvider(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "identity_provider.create", "IdentityProvider", p.ID)
	})
	return s.idpAnswer(p, secret), err
}

// IdentityProvider returns an identity provider of a realm; its secret is IdPSecret's.
func (s *Service) IdentityProvider(ctx context.Context, tenantID, realmID, id string) (IdentityProvider, error) {
	p, err := s.store.GetIdentityProvider(ctx, tenantID, realmID, id)
	if err != nil {
		return p, latchkey.IfNotFound(err, idpNotFound, id)
	}
	return s.idpAnswer(p, ""), nil
}

// IdPSecret opens an identity provider's client secret ("" for none).
func (s *Service) IdPSecret(p IdentityProvider) (string, error) {
	if p.ClientSecretSealed == "" {
		return "", nil
	}
	b, err := s.box.Open(p.ClientSecretSealed)
	return string(b), err
}

// ListIdentityProviders returns a page of a realm's identity providers.
func (s *Service) ListIdentityProviders(ctx context.Context, tenantID, realmID string, opts latchkey.ListOptions) ([]IdentityProvider, int, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return nil, 0, err
	}
	ps, total, err := s.store.ListIdentityProviders(ctx, tenantID, realmID, opts)
	for i := range ps {
		ps[i] = s.idpAnswer(ps[i], "")
	}
	return ps, total, err
}

// UpdateIdentityProvider changes an identity provider; a new client secret
// is sealed, and shown in this answer.
func (s *Service) UpdateIdentityProvider(ctx context.Context, tenantID, realmID, id string, in IdPIn) (p IdentityProvider, err error) {
	var secret string
	err = s.store.Update(ctx, func(tx Tx) error {
		if p, err = tx.GetIdentityProvider(ctx, tenantID, realmID, id); err != nil {
			return latchkey.IfNotFound(err, idpNotFound, id)
		}
		if secret, err = s.prepareIdP(&p, in, false); err != nil {
			return err
		}
		p.UpdateTime = s.Clock.Now()
		if err := tx.UpdateIdentityProvider(ctx, p); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, realmID, "identity_provider.update", "IdentityProvider", id)
	})
	return s.idpAnswer(p, secret), err
}

// DeleteIdentityProvider deletes an identity provider.
func (s *Service) DeleteIdentityProvider(ctx context.Context, tenantID, realmID, id string) error {
	return s.store.Update(ctx, func(tx Tx) error {
		if err := tx.DeleteIdentityProvider(ctx, tenantID, realmID, id); err != nil {
			return latchkey.IfNotFound(err, idpNotFound, id)
		}
		return s.record(ctx, tx, tenantID, realmID, "identity_provider.delete", "IdentityProvider", id)
	})
}
