package httpapi_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/descope/virtualwebauthn"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/latchkey/latchkey/internal/browsertest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// publicJWK is the public JWK of an EC key, as a JSON object.
func publicJWK(t testing.TB, k *ecdsa.PublicKey) map[string]any {
	t.Helper()
	b, err := (&jose.JSONWebKey{Key: k}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// exportedPasskey is a passkey of a software authenticator, created
// elsewhere, and its entry in an import: its credential id and public key.
func exportedPasskey(t testing.TB) (virtualwebauthn.Credential, map[string]any) {
	t.Helper()
	cred := newCredential(t)
	key, err := x509.ParsePKCS8PrivateKey(cred.Key.Data)
	if err != nil {
		t.Fatal(err)
	}
	return cred, map[string]any{"credential_id": base64.RawURLEncoding.EncodeToString(cred.ID),
		"jwk": publicJWK(t, &key.(*ecdsa.PrivateKey).PublicKey), "transports": []string{"internal"}}
}

// walkPasskey is an import entry for the route walks (escalation_test.go).
func walkPasskey() map[string]any {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := make([]byte, 32)
	rand.Read(id)
	return map[string]any{"credential_id": base64.RawURLEncoding.EncodeToString(id), "jwk": map[string]any{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, 32))), "y": base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 32)))}}
}

// TestImportCredentialsAPI: a passkey created elsewhere is imported for an
// identity (a dry run first, which stores nothing), signs in on the hosted
// page's ceremony, and is exported in the form the import takes; bad
// input names its field, a passkey already registered is a 409, and
// another tenant, another realm and too few scopes are refused.
func TestImportCredentialsAPI(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSignInFixture(t, e, "Migrated")
		e.api.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		bo := str(t, newIdentity(t, e.api, f.realm, "bo"), "id")
		creds := "/realms/" + f.realm + "/identities/" + bo + "/credentials"
		cred, entry := exportedPasskey(t)
		body := map[string]any{"credentials": []any{entry}}

		dry := e.api.post(t, creds+":import?dry_run=true", body)
		if dry["dry_run"] != true || len(items(t, dry, "credentials")) != 1 {
			t.Fatalf("dry run: %v", dry)
		}
		if listed := e.api.get(t, creds); num(t, listed, "total_size") != 0 {
			t.Fatalf("a dry run stored %v", listed)
		}
		imported := items(t, e.api.post(t, creds+":import", body), "credentials")
		if len(imported) != 1 || imported[0]["csr_type"] != "WEBAUTHN" || imported[0]["identity_id"] != bo || imported[0]["state"] != "ACTIVE" {
			t.Fatalf("imported %v", imported)
		}
		if got := e.api.get(t, creds+"/"+str(t, imported[0], "id")); got["jwk_thumbprint"] != imported[0]["jwk_thumbprint"] {
			t.Errorf("stored %v", got)
		}
		if i := e.api.get(t, "/realms/"+f.realm+"/identities/"+bo); i["enrollment_status"] != "ENROLLED" {
			t.Errorf("enrollment after the import: %v", i["enrollment_status"])
		}

		// The imported passkey signs in, its authenticator's user handle
		// being the old system's.
		h := passkeyHolder{identity: bo, origin: e.node.URL, cred: cred,
			auth: virtualwebauthn.NewAuthenticatorWithOptions(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte("legacy-user-17")})}
		if answer := h.signIn(t, f.issuer, signInQuery(f.clientID, f.callback)); answer["redirect"] == nil {
			t.Fatalf("sign-in with the imported passkey: %v", answer)
		}

		// The export is the import's form, with the key as COSE too.
		exported := items(t, e.api.get(t, creds+":export"), "credentials")
		if len(exported) != 1 || exported[0]["credential_id"] != entry["credential_id"] || exported[0]["public_key"] == nil ||
			exported[0]["jwk_json"] == nil || exported[0]["id"] != imported[0]["id"] {
			t.Fatalf("exported %v", exported)
		}
		ada := "/realms/" + f.realm + "/identities/" + f.ada.identity + "/credentials"
		again := e.api.do(t, "POST", ada+":import", map[string]any{"credentials": exported})
		conflict := assertError(t, again, http.StatusConflict, "conflict", "credentials already registered")
		if fvs := items(t, detail(t, conflict, "FieldViolations"), "field_violations"); len(fvs) != 2 ||
			fvs[0]["field"] != "credentials[0].credential_id" || !strings.HasPrefix(fvs[0]["description"].(string), "this passkey belongs to another identity") {
			t.Errorf("the export imported for another identity: %v", fvs)
		}

		_, fresh := exportedPasskey(t)
		for _, c := range []struct {
			path  string
			body  any
			field string
		}{
			{creds + ":import", map[string]any{"credentials": []any{map[string]any{"credential_id": fresh["credential_id"], "jwk": map[string]any{"kty": "EC"}}}},
				"credentials[0].jwk"},
			{creds + ":import", map[string]any{"credentials": []any{map[string]any{"credential_id": "short", "jwk": fresh["jwk"]}}}, "credentials[0].credential_id"},
			{creds + ":import", map[string]any{"credentials": []any{map[string]any{"credential_id": fresh["credential_id"], "jwk": fresh["jwk"], "sign_count": "7"}}},
				"credentials[0].sign_count"},
			{creds + ":import", map[string]any{"credentials": []any{map[string]any{"credential_id": fresh["credential_id"], "jwk": fresh["jwk"], "pin": "1234"}}},
				"credentials[0].pin"},
			{creds + ":import", map[string]any{"credentials": []any{}}, "credentials"},
			{creds + ":import", map[string]any{"passkeys": []any{fresh}}, "passkeys"},
			{creds + ":import?dry_run=maybe", body, "dry_run"},
			{creds + ":import?dryrun=true", body, "dryrun"},
			{creds + ":export?all=true", nil, "all"},
		} {
			method := "POST"
			if c.body == nil {
				method = "GET"
			}
			assertInvalid(t, e.api.do(t, method, c.path, c.body), c.field, "")
		}

		other := newRealm(t, e.api, "Elsewhere")
		otherCreds := "/realms/" + other + "/identities/" + bo + "/credentials"
		freshBody := map[string]any{"credentials": []any{fresh}}
		assertNotFound(t, e.api.do(t, "POST", otherCreds+":import", freshBody), "Identity", bo, "identity not found")
		assertNotFound(t, e.api.do(t, "GET", otherCreds+":export", nil), "Identity", bo, "identity not found")
		n := e.node
		for what, r := range map[string]testenv.Response{
			"credentials:read, import":               e.api.withToken(n.Token(t, "credentials:read")).do(t, "POST", creds+":import", freshBody),
			"credential-binding-jobs:create, import": e.api.withToken(n.Token(t, "credential-binding-jobs:create")).do(t, "POST", creds+":import", freshBody),
			"identities:update, import":              e.api.withToken(n.Token(t, "identities:update")).do(t, "POST", creds+":import", freshBody),
			"credentials:create, export":             e.api.withToken(n.Token(t, "credentials:create")).do(t, "GET", creds+":export", nil),
			"another tenant, import":                 client{base: n.URL, tenant: "0001ffffffffffff", token: e.api.token}.do(t, "POST", creds+":import", freshBody),
			"another tenant, export":                 client{base: n.URL, tenant: "0001ffffffffffff", token: e.api.token}.do(t, "GET", creds+":export", nil),
		} {
			if r.Status != http.StatusForbidden {
				t.Errorf("%s: %d %s, want 403", what, r.Status, r.Body)
			}
		}
		if r := e.api.withToken(n.Token(t, "credentials:create")).do(t, "POST", creds+":import", freshBody); r.Status != http.StatusOK {
			t.Errorf("credentials:create alone imports: %d %s", r.Status, r.Body)
		}
		// A passkey for the administrator would sign in as the
		// administrator: only a token with all its scopes may give one.
		admin := "/realms/" + e.adminRealm() + "/identities/" + e.node.Console.AdminIdentityID + "/credentials:import"
		_, forAdmin := exportedPasskey(t)
		r := e.api.withToken(n.Token(t, "credentials:create")).do(t, "POST", admin, map[string]any{"credentials": []any{forAdmin}})
		if m := r.JSON(t); r.Status != http.StatusForbidden || !strings.HasPrefix(fmt.Sprint(m["message"]), "the token does not hold ") {
			t.Errorf("a passkey for the administrator with credentials:create only: %d %s", r.Status, r.Body)
		}
	})
}

// TestSignInWithImportedPasskey is the proof of portability: a passkey
// created elsewhere (a known P-256 key, put into Chromium's virtual
// authenticator for Latchkey's RP ID) is imported through the API, with
// its key as COSE, and signs the user in on the hosted page: a real OIDC
// relying party gets its tokens, and the sign-in log names the imported
// credential.
func TestSignInWithImportedPasskey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		realm := newRealm(t, c, "Migrated")
		ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")

		// The passkey as the old system knew it.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		credentialID := make([]byte, 32)
		rand.Read(credentialID)
		cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
			Curve:         int64(webauthncose.P256), XCoord: key.X.FillBytes(make([]byte, 32)), YCoord: key.Y.FillBytes(make([]byte, 32))})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(n.URL)
		ctx := browsertest.Start(t)
		browsertest.AddAuthenticatorWithPasskey(t, ctx, u.Hostname(), credentialID, pkcs8, []byte("legacy-user-ada"))

		imported := items(t, c.post(t, "/realms/"+realm+"/identities/"+ada+"/credentials:import", map[string]any{"credentials": []any{map[string]any{
			"credential_id": base64.RawURLEncoding.EncodeToString(credentialID), "public_key": base64.RawURLEncoding.EncodeToString(cose),
			"sign_count": 0, "transports": []string{"internal"}, "user_handle": base64.RawURLEncoding.EncodeToString([]byte("legacy-user-ada")),
		}}}), "credentials")
		credential := str(t, imported[0], "id")

		ln, base := testenv.Listen(t)
		callback := base + "/callback"
		app, clientID, secret := oidcClient(t, n, realm, callback)
		c.ok(t, "PUT", "/realms/"+realm+"/policy", map[string]any{"default_effect": "deny", "rules": []any{
			map[string]any{"effect": "allow", "applications": []string{app}, "identities": []string{ada}}}})
		issuer := n.URL + "/v1/tenants/" + c.tenant + "/realms/" + realm + "/applications/" + app
		rp := startRelyingParty(t, ln, issuer, clientID, secret, http.DefaultClient)

		o := rp.signInThrough(t, ctx)
		if o.err != "" {
			t.Fatalf("sign-in with the imported passkey: %s", o.err)
		}
		if o.idToken.Subject != ada || o.claims["preferred_username"] != "ada" || o.userinfo["sub"] != ada {
			t.Errorf("ID token %v, userinfo %v", o.claims, o.userinfo)
		}
		assertAllowedSignIn(t, c, realm, app, ada)
		allowed := signInEvents(t, c, realm, `action eq "sign_in.allowed" and identity_id eq "`+ada+`"`)
		if allowed[0]["credential_id"] != credential {
			t.Errorf("the sign-in was made with %v, want the imported credential %s", allowed[0]["credential_id"], credential)
		}
	})
}

// TestImportSoftwarePasskey: a software passkey of Beyond Identity's
// embedded SDK, imported as Beyond Identity lists its credentials
// (csr_type JWT, jwk_json, its read-only fields as they are), signs in
// through the SDK's protocol with the key the SDK holds.
func TestImportSoftwarePasskey(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSDKFixture(t, e)
		cy := str(t, newIdentity(t, e.api, f.realm, "cy"), "id")
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		jwkJSON, _ := (&jose.JSONWebKey{Key: &key.PublicKey}).MarshalJSON()
		kid := thumbprint(t, &key.PublicKey)
		tp, _ := base64.RawURLEncoding.DecodeString(kid)
		e.api.post(t, "/realms/"+f.realm+"/identities/"+cy+"/credentials:import", map[string]any{"credentials": []any{map[string]any{
			"id": "81490afab171aef0", "identity_id": "e85de356dc78843a", "realm_id": "7df92e4a38ba0993", "tenant_id": "0001b42d80372976",
			"state": "ACTIVE", "csr_type": "JWT", "jwk_json": string(jwkJSON), "jwk_thumbprint": base64.URLEncoding.EncodeToString(tp),
			"create_time": "2022-03-14T03:42:52.905657Z", "update_time": "2022-06-14T05:55:23.823187Z"}}})
		req := f.start(t)
		f.allowed(t, f.post(t, softwareClaims(t, key, kid, f.proofClaims(req, cy))), "cy")
	})
}
