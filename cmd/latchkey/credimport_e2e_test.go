package main_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// newPasskeyKey returns a credential id and a P-256 public key as COSE
// and as a JWK, as another system would export them.
func newPasskeyKey(t *testing.T) (id, cose, jwk string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256), XCoord: k.X.FillBytes(make([]byte, 32)), YCoord: k.Y.FillBytes(make([]byte, 32))})
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&jose.JSONWebKey{Key: &k.PublicKey}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(b), string(j)
}

// TestImportCredentialsCLI runs `latchkey import --credentials` with a CSV
// file against a running server, as the README shows it: the dry run and
// the import report each failed row on its line (a row the file reader
// refuses, a field the server refuses, an unknown username, and the other
// passkey of an identity with a refused one) and import the rest; the
// export, as JSON with usernames, is refused as already registered.
func TestImportCredentialsCLI(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			n := serve(t, freeAddr(t), dir, engineArgs(t, engine)...)
			tenant, token := credentials(t, dir)["tenant_id"], n.token(t)
			realm := n.createRealm(t, token, tenant)
			ids := n.createIdentities(t, token, tenant, realm, 2)

			var file bytes.Buffer
			w := csv.NewWriter(&file)
			w.Write([]string{"username", "credential_id", "public_key", "jwk_json", "sign_count", "backup_state", "transports"})
			row := func(username, signCount, backupState string, asJWK bool) {
				id, cose, jwk := newPasskeyKey(t)
				if asJWK {
					cose = ""
				} else {
					jwk = ""
				}
				w.Write([]string{username, id, cose, jwk, signCount, backupState, "internal hybrid"})
			}
			row("user0000", "3", "", false)    // line 2
			row("user0001", "", "", false)     // line 3: refused with line 4
			row("user0001", "-1", "", false)   // line 4
			row("nobody", "", "", false)       // line 5
			row("user0000", "", "maybe", true) // line 6
			row("user0000", "", "false", true) // line 7
			w.Flush()
			path := filepath.Join(t.TempDir(), "passkeys.csv")
			if err := os.WriteFile(path, file.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			base := []string{"--data-dir", dir, "--realm", realm, "--credentials"}
			creds := func(identity string) string { return identities(tenant, realm) + "/" + identity + "/credentials" }

			for _, step := range []struct {
				args []string
				out  string
				kept int
			}{
				{[]string{"--dry-run"}, "2 passkeys of 1 identities would be imported (dry run: nothing was changed), 4 rows failed", 0},
				{nil, "2 passkeys of 1 identities imported, 4 rows failed", 2},
			} {
				stdout, stderr, err := run(t, nil, append(append([]string{"import", path}, base...), step.args...)...)
				if code := exitCode(err); code != 1 || !strings.Contains(stdout, step.out) {
					t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", step.args, code, stdout, stderr)
				}
				for _, want := range []string{
					`line 3: not imported: another passkey of "user0001" was refused`,
					"line 4: sign_count: must be 0 to 4294967295",
					`line 5: no identity of the realm has the username "nobody"`,
					"line 6: backup_state: must be true or false",
				} {
					if !strings.Contains(stderr, want) {
						t.Errorf("%v: stderr lacks %q:\n%s", step.args, want, stderr)
					}
				}
				if got := n.expect(t, http.StatusOK, "GET", creds(ids[0]), token, nil); got["total_size"] != float64(step.kept) {
					t.Errorf("%v: user0000 has %v passkeys, want %d", step.args, got["total_size"], step.kept)
				}
			}
			if got := n.expect(t, http.StatusOK, "GET", creds(ids[1]), token, nil); got["total_size"] != 0.0 {
				t.Errorf("user0001 has %v passkeys, want none", got["total_size"])
			}

			// The API's export, with usernames, is a JSON credentials file.
			exported := n.expect(t, http.StatusOK, "GET", creds(ids[0])+":export", token, nil)
			list, _ := exported["credentials"].([]any)
			if len(list) != 2 {
				t.Fatalf("export: %v", exported)
			}
			for _, c := range list {
				c.(map[string]any)["username"] = "user0000"
			}
			b, _ := json.Marshal(exported)
			jsonPath := filepath.Join(t.TempDir(), "passkeys.json")
			if err := os.WriteFile(jsonPath, b, 0o600); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := run(t, nil, append([]string{"import", jsonPath}, base...)...)
			if code := exitCode(err); code != 1 || !strings.Contains(stdout, "0 passkeys of 0 identities imported, 2 rows failed") ||
				!strings.Contains(stderr, "credentials[1]: credential_id: this identity already has this passkey") {
				t.Errorf("import of the export: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
			}
			if _, stderr, err := run(t, nil, append([]string{"import", jsonPath, "--create-groups"}, base...)...); exitCode(err) != 1 ||
				!strings.Contains(stderr, "--create-groups is an option of an import of identities") {
				t.Errorf("--create-groups with --credentials: %v %s", err, stderr)
			}
		})
	}
}
