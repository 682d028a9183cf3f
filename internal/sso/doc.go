// Package sso owns workforce single sign-on as Beyond Identity's API v1
// defines it: SSO configs (one typed payload per type: bookmark,
// generic_saml, ws_fed, generic_oidc, okta_sso_bi_idp,
// entra_id_external_auth_methods, generic_oidc_idp, okta_idp, scim), their
// assignments to identities and groups (an identity is assigned directly or
// through a group it belongs to), upstream identity providers (oidc_idp)
// and each realm's launch mechanisms (flow types per platform). Configs
// that sign in like an application (generic_oidc, okta_sso_bi_idp,
// entra_id_external_auth_methods) are backed by an oauth Application, made,
// changed and deleted with them. Upstream secrets are sealed (secretbox).
//
// It validates and stores; SAML and WS-Federation issuance and upstream
// sign-in read configs through Service.Config. It decides the app portal's
// tiles (Tiles) and which of Latchkey's own sign-ins each launch mechanism
// is (launch.go, CheckLaunch), which internal/authenticator enforces.
//
// It must not import storage engines, internal/httpapi or internal/console.
package sso
