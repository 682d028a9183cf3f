package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// The embedded SDK's software passkey, as it speaks over HTTP: for the
// tests of one process (internal/httpapi) and of separate processes
// (cmd/latchkey) alike.

// SoftwareProof is what the SDK's software passkey sends to bind itself
// (a binding job's :bind): an ES256 JWS of the job's subject and token,
// signed by a fresh P-256 key given in its own header. It returns the
// proof and the key, which signs in.
func SoftwareProof(t testing.TB, sub, token string) (map[string]any, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, &jose.SignerOptions{EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]string{"sub": sub, "token": token})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	return map[string]any{"type": "JWT", "raw": raw}, key
}

// Thumbprint is the SDK's kid for a key: its RFC 7638 thumbprint, base64url.
func Thumbprint(t testing.TB, key crypto.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: key}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// SoftwareClaims is the form field "claims" that a software passkey posts
// to an application's bi-authenticate: claims signed with key under kid
// (the SDK's is Thumbprint of the key).
func SoftwareClaims(t testing.TB, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	out, _ := json.Marshal(map[string]string{"Jwt": raw})
	return string(out)
}
