package sso

import (
	"time"

	"github.com/latchkey/latchkey/internal/saml"
)

// relyingParty maps a ws_fed payload onto the SAML engine's settings: its
// realm (audience_url) is the entity ID, its reply URL (acs_url) the one
// ACS URL; its tokens are SAML 2.0 assertions (or SAML 1.1 ones, as
// token_type says), always signed, valid for expiration_time_seconds.
func relyingParty(name string, p *WSFed) saml.ServiceProvider {
	sp := saml.ServiceProvider{DisplayName: name, WSFed: true, SAML11: p.TokenType == "saml11", EntityID: p.AudienceURL, ACSURL: p.ACSURL,
		NameFormat: p.NameFormat, SubjectUserNameAttribute: p.SubjectUserNameAttribute,
		AuthenticationContext: p.AuthenticationContext, SignAssertions: true,
		AssertionValidity: time.Duration(p.ExpirationTimeSeconds) * time.Second}
	for _, a := range p.AdditionalUserAttributes {
		sp.Attributes = append(sp.Attributes, saml.Attribute{Name: a.Name, NameFormat: a.NameFormat, Value: a.Value,
			CustomValue: a.CustomValue, Namespace: a.Namespace})
	}
	return sp
}

// fillWSFed sets what the WS-Federation engine publishes of a ws_fed config:
// its passive requestor endpoint, and its metadata, whose URL is the issuer
// of its tokens.
func (s *Service) fillWSFed(c Config, p *WSFed) {
	endpoint := s.PublicURL + saml.WSFedPath(c.TenantID, c.RealmID, c.ID)
	p.IdPSSOURL, p.MetadataURL, p.IdPIssuerURL = endpoint, endpoint+"/metadata", endpoint+"/metadata"
}
