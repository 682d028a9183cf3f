// Package oidctest proves Latchkey's OpenID Provider from outside, as
// relying parties and the OpenID Foundation's conformance suite see it: a
// real node on each engine, passkeys signed in through the hosted page in
// headless Chromium, and
//   - the modules of the Basic OP, Config OP and RP-Initiated Logout OP
//     certification plans (and Back-Channel Logout OP's) re-run with the
//     suite's checks (conformance_test.go);
//   - the relying-party libraries people use, unchanged (rplib_test.go):
//     go-oidc with x/oauth2, zitadel/oidc, and npm's openid-client and
//     oauth4webapi (testdata/npm, installed by npm ci as .ci/run does);
//   - single sign-on and logout across two nodes of one PostgreSQL
//     (nodes_test.go).
//
// It holds no code but its tests. Only tests import it.
package oidctest
