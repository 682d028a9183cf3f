package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SigningKey is the key of an identity provider that a test stands in for
// (an upstream OIDC provider, Entra ID): it signs the provider's tokens
// with RS256 under its KID and publishes itself as the provider's JWKS.
type SigningKey struct {
	*rsa.PrivateKey
	KID string
}

// NewSigningKey makes a 2048-bit RSA SigningKey named kid.
func NewSigningKey(t testing.TB, kid string) SigningKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return SigningKey{PrivateKey: key, KID: kid}
}

// Sign is a JWT (typ JWT, kid k.KID) of claims, signed by k.
func (k SigningKey) Sign(t testing.TB, claims any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k.PrivateKey},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KID))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// ServeJWKS answers the JSON Web Key Set of k's public key.
func (k SigningKey) ServeJWKS(w http.ResponseWriter, _ *http.Request) {
	json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: k.KID, Algorithm: "RS256", Use: "sig"}}})
}

// Serve serves h on a free port of localhost until the test ends, and
// returns its URL.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, url := Listen(t)
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return url
}

// Listen listens on a free port of localhost and returns the listener with
// its URL, for a test server that must know its URL before it serves (a
// relying party registers its redirect URI first).
func Listen(t testing.TB) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
