package sso

import (
	"context"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/saml"
)

// ServiceProvider is the generic_saml or ws_fed config id as the SAML
// engine serves it (saml.ServiceProviders): latchkey.ErrNotFound for a
// config that does not exist or is of another type.
func (s *Service) ServiceProvider(ctx context.Context, tenantID, realmID, id string) (saml.ServiceProvider, error) {
	c, err := s.store.GetSSOConfig(ctx, tenantID, realmID, id)
	if err != nil {
		return saml.ServiceProvider{}, err
	}
	switch p := c.Payload.(type) {
	case *SAML:
		return serviceProvider(c.DisplayName, p), nil
	case *WSFed:
		return relyingParty(c.DisplayName, p), nil
	}
	return saml.ServiceProvider{}, latchkey.ErrNotFound
}

// serviceProvider maps a generic_saml payload onto the engine's settings.
func serviceProvider(name string, p *SAML) saml.ServiceProvider {
	sp := saml.ServiceProvider{DisplayName: name, EntityID: p.AudienceURL, ACSURL: p.ACSURL,
		DefaultRelayState: p.DefaultRelayState, NameFormat: p.NameFormat, SubjectUserNameAttribute: p.SubjectUserNameAttribute,
		AuthenticationContext: p.AuthenticationContext, SignEnvelope: p.SignEnvelope, SignAssertions: p.SignAssertions,
		EncryptAssertions: p.EncryptAssertions, EncryptionCertificate: p.AssertionEncryptionPublicKey,
		AssertionEncryptionAlgorithm: p.AssertionEncryptionAlgorithm,
		AssertionValidity:            time.Duration(p.AssertionValidityDurationSeconds) * time.Second,
		ValidateSignedRequests:       p.ValidateSignedRequests, EnableSingleLogout: p.EnableSingleLogOut,
		SingleLogoutURL: p.SingleLogOutURL, SingleLogoutBinding: p.SingleLogOutBinding}
	if p.OverrideRecipientAndDestination {
		sp.RecipientURL, sp.DestinationURL = p.RecipientURL, p.DestinationURL
	}
	if o := p.OtherSSOURLs; o != nil {
		sp.OtherACSURLs = []saml.IndexedURL{{Index: o.Index, URL: o.URL}}
	}
	for _, c := range p.SPSignatureCertificates {
		sp.SigningCertificates = append(sp.SigningCertificates, c.SPPublicSigningKey)
	}
	for _, a := range p.AdditionalUserAttributes {
		sp.Attributes = append(sp.Attributes, saml.Attribute{Name: a.Name, NameFormat: a.NameFormat, Value: a.Value, CustomValue: a.CustomValue})
	}
	return sp
}

// Allowed decides whether identity may sign in to the SSO config id: its
// assignments, directly or through a group, are its allow list. Its
// callers read the identity and the config already (to sign in, to serve
// the config's endpoint), so only the assignments are read here: an
// identity of another realm is refused, and assignments never cross realms.
func (s *Service) Allowed(ctx context.Context, tenantID, realmID, id string, identity directory.Identity) (bool, error) {
	if identity.TenantID != tenantID || identity.RealmID != realmID {
		return false, nil
	}
	return s.store.IdentityAssigned(ctx, id, identity.ID)
}
