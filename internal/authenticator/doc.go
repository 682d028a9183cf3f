// Package authenticator serves what a browser or the embedded SDK reaches
// without a management token: each application's OAuth 2.0 / OpenID Connect
// provider endpoints (authorize and the hosted sign-in page, signin,
// bi-authenticate, token, userinfo, revoke, introspect, discovery, JWKS,
// the form_post page, the refusal page, end_session and its confirmation
// page, the hosted page's e-mail codes: otp and otp/verify), each SAML SSO
// config's identity provider endpoints (metadata, sso, continue, signin,
// idp-initiated, slo; internal/saml decides), the way to an upstream OIDC
// provider from the hosted sign-in page and the callbacks of upstream
// providers (internal/upstream decides), a binding link's own
// endpoints (:invokeAuthenticator and the hosted binding page, :getInfo,
// :bind), each realm's account page, where people manage their own
// passkeys, and each realm's app portal, the tiles of their SSO configs.
// The hosted pages and the embedded SDK's endpoints refuse what the
// realm's launch mechanisms turn off (launch.go). Client credentials, access tokens, link tokens, passkeys and
// the browser's session authorise them. It owns the CORS that lets an authenticator
// config's origins, and the origins of an application's redirect URIs, call
// them, the hosted pages' templates and their CSP nonces, and the cookie of
// the browser's sign-in session (internal/session owns the session). The management API
// (internal/httpapi) mounts nothing of it; the node registers both on one
// httpx.Mux.
//
// Handlers decode, call a service, and encode; they hold no business rules.
// It must not import internal/httpapi, internal/scim, internal/console or
// storage engines.
package authenticator
