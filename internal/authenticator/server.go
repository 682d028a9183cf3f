package authenticator

import (
	"github.com/latchkey/latchkey/internal/httpx"
	"github.com/latchkey/latchkey/internal/mail"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/otp"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/saml"
	"github.com/latchkey/latchkey/internal/session"
	"github.com/latchkey/latchkey/internal/sso"
	"github.com/latchkey/latchkey/internal/upstream"
)

// Server holds what the handlers need.
type Server struct {
	OAuth    *oauth.Service
	Passkeys *passkey.Service
	// Codes are the e-mail one-time codes of the hosted sign-in page.
	Codes *otp.Service
	// Sessions are the browsers' sign-in sessions of the hosted page.
	Sessions *session.Service
	// SAML is the SAML identity provider of the SSO configs.
	SAML *saml.Service
	// Mail serves the realms' active themes, which the hosted pages wear.
	Mail *mail.Service
	// Upstream signs in through upstream OIDC identity providers.
	Upstream *upstream.Service
	// PublicURL is Latchkey's external URL; the hosted pages' CSP depends
	// on its scheme.
	PublicURL string
	// SSO is the SSO configs: the app portal's tiles and the realms'
	// launch mechanisms.
	SSO *sso.Service
}

// Routes registers the OP endpoints, the binding links' endpoints, the
// realms' account pages and the hosted pages' logo on mux.
func (s *Server) Routes(mux *httpx.Mux) {
	mux.HandleFunc("GET "+passkey.DefaultLogoPath, serveLogo)
	s.opRoutes(mux)
	s.linkRoutes(mux)
	s.codeRoutes(mux)
	s.samlRoutes(mux)
	s.wsfedRoutes(mux)
	s.accountRoutes(mux)
	s.portalRoutes(mux)
	s.upstreamRoutes(mux)
}
