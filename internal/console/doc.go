// Package console owns the admin web console served at {public-url}/console:
// server-rendered html/template pages (with htmx, vendored and embedded),
// the administrator's session and its CSRF protection.
//
// Administrators sign in through the console's own OIDC application in the
// admin realm, with their passkeys, so the realm's policy decides who may
// enter; the access token of that sign-in then authorizes every console
// request exactly as it would an API request: its scopes, its actor in the
// audit log, and the same services with the same validation.
//
// It imports domain services only; it must not import httpapi, authenticator,
// scim or any storage engine.
package console
