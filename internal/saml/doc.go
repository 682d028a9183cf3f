// Package saml owns Latchkey as a SAML 2.0 identity provider: each realm's
// signing certificates (an RSA key sealed by the master key and its
// self-signed X.509 certificate, rotated without downtime), the IdP
// metadata of a service provider's SSO config, AuthnRequests (HTTP-Redirect
// and HTTP-POST bindings, SP signatures verified, ACS URLs checked, IDs
// spent once on every node, DTDs refused), the signed and optionally
// encrypted Responses it issues (SP-initiated and IdP-initiated) once policy
// allows the identity, and Single Logout.
//
// XML signatures and encryption are github.com/crewjam/saml's and
// russellhaering/goxmldsig's; none is made here by hand. A service
// provider's settings come from ServiceProviders (the SSO configs), in this
// package's own type, ServiceProvider.
//
// It is also the WS-Federation 1.2 passive requestor of ws_fed configs
// (wsfed.go): their signed federation metadata, wsignin1.0 answered with a
// RequestSecurityTokenResponse that holds the same signed SAML 2.0
// assertion a Response holds (one function makes both), through the same
// pending sign-ins and policy, and wsignout1.0 / wsignoutcleanup1.0.
//
// It takes net/http requests only because crewjam/saml reads the SAML
// bindings from them; it writes no HTTP answers. It must not import
// internal/httpapi, internal/authenticator, internal/console or storage
// engines; it describes the storage it needs as Store.
package saml
