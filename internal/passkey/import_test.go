package passkey_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/passkey"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// coseEC2 is the COSE form of an EC key with algorithm alg, as an
// authenticator writes it.
func coseEC2(t testing.TB, k *ecdsa.PublicKey, alg webauthncose.COSEAlgorithmIdentifier, crv webauthncose.COSEEllipticCurve) string {
	t.Helper()
	size := (k.Curve.Params().BitSize + 7) / 8
	b, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(alg)},
		Curve:         int64(crv), XCoord: k.X.FillBytes(make([]byte, size)), YCoord: k.Y.FillBytes(make([]byte, size))})
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

func jwkOf(t testing.TB, key any, alg string) string {
	t.Helper()
	b, err := (&jose.JSONWebKey{Key: key, Algorithm: alg}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCredentialID() string { return b64([]byte(latchkey.RandomString(32))) }

// importer is an enrolling database with two identities of the console's
// realm, and a context whose actor holds every management scope.
type importer struct {
	enrolling
	ctx     context.Context
	ada, bo string
}

func newImporter(t *testing.T, open func(testing.TB) *sqlstore.Store) importer {
	t.Helper()
	e := importer{enrolling: newEnrolling(t, open)}
	e.ctx = latchkey.WithActor(t.Context(), latchkey.Actor{Type: "application", ID: "test", Scopes: oauth.ManagementScopes})
	dir := directory.NewService(e.st.Directory())
	dir.Clock = e.clock.Now
	for _, name := range []string{"ada", "bo"} {
		i, err := dir.CreateIdentity(e.ctx, e.console.TenantID, e.console.RealmID,
			directory.Identity{DisplayName: name, Traits: directory.Traits{Username: name}})
		if err != nil {
			t.Fatal(err)
		}
		if name == "ada" {
			e.ada = i.ID
		} else {
			e.bo = i.ID
		}
	}
	return e
}

func (e importer) run(identityID string, dryRun bool, in ...passkey.PortableCredential) ([]passkey.Credential, error) {
	return e.svc.ImportCredentials(e.ctx, e.console.TenantID, e.console.RealmID, identityID, in, dryRun)
}

// violation returns the field violations of err by field, and its code.
func violations(err error) (string, map[string]string) {
	var e *latchkey.Error
	if !errors.As(err, &e) {
		return "", nil
	}
	out := map[string]string{}
	for _, d := range e.Details {
		for _, v := range d.FieldViolations {
			out[v.Field] = v.Description
		}
	}
	return e.Code, out
}

// TestImportCredentials imports passkeys of every accepted kind and form
// (COSE, JWK, Beyond Identity's jwk_json, a software passkey), exports
// them in the same form, and refuses the export's passkeys when they are
// imported again for the same or another identity, naming the fields.
func TestImportCredentials(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newImporter(t, eng.Open)
			p256, p384, sw := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384()), ecKey(t, elliptic.P256())
			edPub, _, _ := ed25519.GenerateKey(rand.Reader)
			rk := rsaKey(t, 2048)
			created := e.clock.Now().Add(-90 * 24 * time.Hour).Truncate(time.Second)
			in := []passkey.PortableCredential{
				{CredentialID: newCredentialID(), PublicKey: coseEC2(t, &p256.PublicKey, webauthncose.AlgES256, webauthncose.P256),
					SignCount: 41, AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", BackupEligible: true, BackupState: true,
					Transports: []string{"internal", "hybrid"}, UserHandle: b64([]byte("old-user-1")), DisplayName: "Ada's phone", CreateTime: &created},
				{CSRType: "WEBAUTHN", CredentialID: newCredentialID(), JWK: json.RawMessage(jwkOf(t, &p384.PublicKey, ""))},
				// Beyond Identity's credential, read-only fields and all.
				{ID: "81490afab171aef0", IdentityID: "e85de356dc78843a", RealmID: "7df92e4a38ba0993", TenantID: "0001b42d80372976",
					State: "ACTIVE", CSRType: "FIDO2", CredentialID: newCredentialID(), JWKJSON: jwkOf(t, edPub, ""),
					UpdateTime: json.RawMessage(`"2022-06-14T05:55:23.823187Z"`)},
				{CredentialID: newCredentialID(), JWK: json.RawMessage(jwkOf(t, &rk.PublicKey, "PS256")), SignCount: 4294967295},
				{CSRType: "JWT", JWKJSON: jwkOf(t, &sw.PublicKey, "")},
			}
			tp, _ := (&jose.JSONWebKey{Key: &sw.PublicKey}).Thumbprint(crypto.SHA256)
			in[4].JWKThumbprint = base64.URLEncoding.EncodeToString(tp)

			if got, err := e.run(e.ada, true, in...); err != nil || len(got) != len(in) {
				t.Fatalf("dry run: %d credentials, %v", len(got), err)
			}
			if list, _, _ := e.svc.ListCredentials(e.ctx, e.console.TenantID, e.console.RealmID, e.ada, latchkey.ListOptions{Limit: 10}); len(list) != 0 {
				t.Fatalf("a dry run stored %d credentials", len(list))
			}
			got, err := e.run(e.ada, false, in...)
			if err != nil {
				t.Fatal(err)
			}
			wantKeys := []crypto.PublicKey{&p256.PublicKey, &p384.PublicKey, edPub, &rk.PublicKey, &sw.PublicKey}
			for i, c := range got {
				stored, err := e.svc.GetCredential(e.ctx, e.console.TenantID, e.console.RealmID, e.ada, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				var jwk jose.JSONWebKey
				if err := jwk.UnmarshalJSON([]byte(stored.JWKJSON)); err != nil || !jwk.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(wantKeys[i]) {
					t.Errorf("credential %d's jwk_json %s is not the key imported (%v)", i, stored.JWKJSON, err)
				}
				if stored.State != passkey.Active || (stored.WebAuthn == nil) != (i == 4) {
					t.Errorf("credential %d stored as %+v", i, stored)
				}
			}
			first := got[0].WebAuthn
			if first.SignCount != 41 || !first.BackupEligible || !first.BackupState || !slices.Equal(first.Transports, []string{"internal", "hybrid"}) ||
				string(first.UserHandle) != "old-user-1" || b64(first.AAGUID) != b64([]byte{0xea, 0x9b, 0x8d, 0x66, 0x4d, 0x01, 0x1d, 0x21, 0x3c, 0xe4, 0xb6, 0xb4, 0x8c, 0xb5, 0x75, 0xd4}) ||
				!got[0].CreateTime.Equal(created) {
				t.Errorf("the first credential's record: %+v, created %v", first, got[0].CreateTime)
			}
			if got[2].CSRType != passkey.CSRWebAuthn || got[2].ID == "81490afab171aef0" || got[2].IdentityID != e.ada {
				t.Errorf("Beyond Identity's credential stored as %+v", got[2])
			}
			if i, _ := e.st.GetIdentity(e.ctx, e.console.RealmID, e.ada); i.EnrollmentStatus != directory.Enrolled {
				t.Errorf("enrollment after the import: %s", i.EnrollmentStatus)
			}

			out, err := e.svc.ExportCredentials(e.ctx, e.console.TenantID, e.console.RealmID, e.ada)
			if err != nil || len(out) != len(in) {
				t.Fatalf("export: %d credentials, %v", len(out), err)
			}
			i := slices.IndexFunc(out, func(p passkey.PortableCredential) bool { return p.CredentialID == in[0].CredentialID })
			if i < 0 || out[i].PublicKey != in[0].PublicKey || out[i].JWKJSON == "" || out[i].SignCount != 41 || out[i].AAGUID != in[0].AAGUID ||
				out[i].UserHandle != in[0].UserHandle || !out[i].CreateTime.Equal(created) || !out[i].BackupState {
				t.Errorf("exported %+v, imported %+v", out, in[0])
			}
			// The export imports as it is: here it is refused, for both
			// identities, only because the passkeys are registered already.
			for identity, want := range map[string]string{e.ada: "this identity already has this passkey", e.bo: "this passkey belongs to another identity of the realm"} {
				_, err := e.run(identity, true, out...)
				code, v := violations(err)
				if code != latchkey.CodeConflict || len(v) != 2*len(in)-1 {
					t.Fatalf("re-import for %s: %v", identity, err)
				}
				for field, description := range v {
					if len(description) < len(want) || description[:len(want)] != want {
						t.Errorf("re-import for %s: %s: %s", identity, field, description)
					}
				}
			}

			// Revoking one: the export lists only the active ones.
			if _, err := e.svc.RevokeCredential(e.ctx, e.console.TenantID, e.console.RealmID, e.ada, got[1].ID); err != nil {
				t.Fatal(err)
			}
			if out, _ := e.svc.ExportCredentials(e.ctx, e.console.TenantID, e.console.RealmID, e.ada); len(out) != len(in)-1 {
				t.Errorf("export after a revocation: %d credentials", len(out))
			}
		})
	}
}

// TestImportRefusals: every kind of bad input is refused with the field
// that holds it, and nothing is stored.
func TestImportRefusals(t *testing.T) {
	for _, eng := range testenv.Engines() {
		t.Run(eng.Name, func(t *testing.T) {
			e := newImporter(t, eng.Open)
			p256 := ecKey(t, elliptic.P256())
			good := func() passkey.PortableCredential {
				return passkey.PortableCredential{CredentialID: newCredentialID(), PublicKey: coseEC2(t, &ecKey(t, elliptic.P256()).PublicKey, webauthncose.AlgES256, webauthncose.P256)}
			}
			offCurve := p256.PublicKey
			offCurve.Y = new(big.Int).Add(offCurve.Y, big.NewInt(1))
			offCurveJWK := `{"kty":"EC","crv":"P-256","x":"` + b64(p256.X.FillBytes(make([]byte, 32))) + `","y":"` + b64(offCurve.Y.FillBytes(make([]byte, 32))) + `"}`
			p521 := ecKey(t, elliptic.P521())
			future := e.clock.Now().Add(time.Hour)
			edit := func(f func(*passkey.PortableCredential)) passkey.PortableCredential {
				p := good()
				f(&p)
				return p
			}
			for _, c := range []struct {
				name  string
				in    passkey.PortableCredential
				field string
			}{
				{"an unknown csr_type", edit(func(p *passkey.PortableCredential) { p.CSRType = "X509" }), "csr_type"},
				{"no key", edit(func(p *passkey.PortableCredential) { p.PublicKey = "" }), "public_key"},
				{"a key that is not base64url", edit(func(p *passkey.PortableCredential) { p.PublicKey = "not base64!" }), "public_key"},
				{"a key that is not COSE", edit(func(p *passkey.PortableCredential) { p.PublicKey = b64([]byte("hello")) }), "public_key"},
				{"a P-521 COSE key", edit(func(p *passkey.PortableCredential) {
					p.PublicKey = coseEC2(t, &p521.PublicKey, webauthncose.AlgES512, webauthncose.P521)
				}), "public_key"},
				{"a COSE point off its curve", edit(func(p *passkey.PortableCredential) {
					p.PublicKey = coseEC2(t, &offCurve, webauthncose.AlgES256, webauthncose.P256)
				}), "public_key"},
				{"a JWK point off its curve", edit(func(p *passkey.PortableCredential) { p.PublicKey, p.JWK = "", json.RawMessage(offCurveJWK) }), "jwk"},
				{"a P-521 JWK", edit(func(p *passkey.PortableCredential) {
					p.PublicKey, p.JWK = "", json.RawMessage(jwkOf(t, &p521.PublicKey, ""))
				}), "jwk"},
				{"a 1024-bit RSA key", edit(func(p *passkey.PortableCredential) {
					p.PublicKey, p.JWK = "", json.RawMessage(jwkOf(t, &rsaKey(t, 1024).PublicKey, ""))
				}), "jwk"},
				{"a 9216-bit RSA key", edit(func(p *passkey.PortableCredential) {
					n := make([]byte, 1152)
					rand.Read(n)
					n[0] |= 0x80
					p.PublicKey, p.JWK = "", json.RawMessage(`{"kty":"RSA","n":"`+b64(n)+`","e":"AQAB"}`)
				}), "jwk"},
				{"an RSA key for SHA-1", edit(func(p *passkey.PortableCredential) {
					p.PublicKey, p.JWK = "", json.RawMessage(`{"kty":"RSA","alg":"RS1","n":"`+b64(rsaKey(t, 2048).N.Bytes())+`","e":"AQAB"}`)
				}), "jwk"},
				{"a private key", edit(func(p *passkey.PortableCredential) { p.PublicKey, p.JWKJSON = "", jwkOf(t, p256, "") }), "jwk_json"},
				{"jwk_json that is not JSON", edit(func(p *passkey.PortableCredential) { p.PublicKey, p.JWKJSON = "", "{" }), "jwk_json"},
				{"two different keys", edit(func(p *passkey.PortableCredential) { p.JWKJSON = jwkOf(t, &p256.PublicKey, "") }), "jwk_json"},
				{"another key's thumbprint", edit(func(p *passkey.PortableCredential) { p.JWKThumbprint = "UW-uVNL0mP1vcLjHrTBxibNgCEe_PD0HIsE3FrbYjPA=" }), "jwk_thumbprint"},
				{"a revoked credential", edit(func(p *passkey.PortableCredential) { p.State = "REVOKED" }), "state"},
				{"no credential id", edit(func(p *passkey.PortableCredential) { p.CredentialID = "" }), "credential_id"},
				{"a credential id that is not base64url", edit(func(p *passkey.PortableCredential) { p.CredentialID = "a+b/c" }), "credential_id"},
				{"a short credential id", edit(func(p *passkey.PortableCredential) { p.CredentialID = b64([]byte("short")) }), "credential_id"},
				{"a negative sign count", edit(func(p *passkey.PortableCredential) { p.SignCount = -1 }), "sign_count"},
				{"a sign count past 32 bits", edit(func(p *passkey.PortableCredential) { p.SignCount = 1 << 32 }), "sign_count"},
				{"an AAGUID that is not a UUID", edit(func(p *passkey.PortableCredential) { p.AAGUID = "yubikey" }), "aaguid"},
				{"backed up but not eligible", edit(func(p *passkey.PortableCredential) { p.BackupState = true }), "backup_state"},
				{"an unknown transport", edit(func(p *passkey.PortableCredential) { p.Transports = []string{"usb", "pigeon"} }), "transports[1]"},
				{"a long user handle", edit(func(p *passkey.PortableCredential) { p.UserHandle = b64(make([]byte, 65)) }), "user_handle"},
				{"a long display name", edit(func(p *passkey.PortableCredential) { p.DisplayName = string(make([]byte, 65)) }), "display_name"},
				{"a create time in the future", edit(func(p *passkey.PortableCredential) { p.CreateTime = &future }), "create_time"},
				{"a software passkey with a credential id", passkey.PortableCredential{CSRType: "JWT", CredentialID: newCredentialID(),
					JWKJSON: jwkOf(t, &p256.PublicKey, "")}, "credential_id"},
				{"a software passkey with a P-384 key", passkey.PortableCredential{CSRType: "JWT",
					JWKJSON: jwkOf(t, &ecKey(t, elliptic.P384()).PublicKey, "")}, "jwk_json"},
			} {
				_, err := e.run(e.ada, false, good(), c.in)
				code, v := violations(err)
				if code != latchkey.CodeBadRequest || v["credentials[1]."+c.field] == "" || len(v) != 1 {
					t.Errorf("%s: %v, want a 400 naming credentials[1].%s", c.name, err, c.field)
				}
			}

			dup := good()
			sameKey := good()
			sameKey.PublicKey = dup.PublicKey
			for name, in := range map[string][]passkey.PortableCredential{"one credential id twice": {dup, dup}, "one key twice": {dup, sameKey}} {
				_, err := e.run(e.ada, false, in...)
				code, v := violations(err)
				if code != latchkey.CodeConflict || len(v) != 1 || (v["credentials[1].credential_id"] == "" && v["credentials[1].public_key"] == "") {
					t.Errorf("%s: %v", name, err)
				}
			}
			if _, err := e.run(e.ada, false); latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
				t.Errorf("no credentials: %v", err)
			}
			if _, err := e.run(e.ada, false, make([]passkey.PortableCredential, passkey.MaxImport+1)...); latchkey.ErrorCode(err) != latchkey.CodeBadRequest {
				t.Errorf("too many credentials: %v", err)
			}
			if _, err := e.svc.ImportCredentials(e.ctx, e.console.TenantID, e.console.RealmID, "nobody", []passkey.PortableCredential{good()}, false); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
				t.Errorf("an unknown identity: %v", err)
			}
			if _, err := e.svc.ImportCredentials(e.ctx, latchkey.NewTenantID(), e.console.RealmID, e.ada, []passkey.PortableCredential{good()}, false); latchkey.ErrorCode(err) != latchkey.CodeNotFound {
				t.Errorf("another tenant: %v", err)
			}
			// Whoever holds the keys signs in as the identity: an actor
			// without the administrator's scopes cannot give its passkeys.
			weak := latchkey.WithActor(t.Context(), latchkey.Actor{Type: "application", ID: "weak", Scopes: []string{"credentials:create"}})
			if _, err := e.svc.ImportCredentials(weak, e.console.TenantID, e.console.RealmID, e.console.AdminIdentityID, []passkey.PortableCredential{good()}, false); latchkey.ErrorCode(err) != latchkey.CodeForbidden {
				t.Errorf("a passkey for the administrator from a weaker actor: %v", err)
			}
			if list, _, _ := e.svc.ListCredentials(e.ctx, e.console.TenantID, e.console.RealmID, passkey.AnyIdentity, latchkey.ListOptions{Limit: 10}); len(list) != 0 {
				t.Errorf("refused imports stored %d credentials", len(list))
			}
		})
	}
}
