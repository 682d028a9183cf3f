package fastrsa_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/fastrsa"
	"github.com/latchkey/latchkey/internal/testenv"
)

func newKey(t testing.TB) *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// openSSL returns the signer of key, which must go through OpenSSL: this
// machine kind has libcrypto.so.3, so CI requires it.
func openSSL(t testing.TB, key *rsa.PrivateKey) crypto.Signer {
	s := fastrsa.Signer(key)
	if s == crypto.Signer(key) {
		testenv.Unavailable(t, "fastrsa signs through "+fastrsa.Backend())
	}
	if !strings.HasPrefix(fastrsa.Backend(), "OpenSSL 3") {
		t.Fatalf("Backend() = %q with an OpenSSL signer", fastrsa.Backend())
	}
	return s
}

// TestSameSignatures: OpenSSL's PKCS #1 v1.5 signatures are crypto/rsa's,
// byte for byte, for each hash it takes; PSS goes through crypto/rsa and
// verifies; a digest of the wrong length is refused.
func TestSameSignatures(t *testing.T) {
	key := newKey(t)
	s := openSSL(t, key)
	if !key.PublicKey.Equal(s.Public()) {
		t.Fatal("Public() is not the key's")
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		d := h.New()
		d.Write([]byte("a token's header and claims"))
		digest := d.Sum(nil)
		got, err := s.Sign(rand.Reader, digest, h)
		if err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		want, _ := rsa.SignPKCS1v15(nil, key, h, digest)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: OpenSSL's signature differs from crypto/rsa's", h)
		}
		if _, err := s.Sign(rand.Reader, digest[1:], h); err == nil {
			t.Errorf("%v: a short digest was signed", h)
		}
	}
	digest := crypto.SHA256.New().Sum(nil)
	pss := &rsa.PSSOptions{Hash: crypto.SHA256}
	sig, err := s.Sign(rand.Reader, digest, pss)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&key.PublicKey, crypto.SHA256, digest, sig, pss); err != nil {
		t.Errorf("PSS: %v", err)
	}
}

// BenchmarkSign compares one RSA-2048 SHA-256 signature through each way.
func BenchmarkSign(b *testing.B) {
	key := newKey(b)
	digest := crypto.SHA256.New().Sum(nil)
	for name, s := range map[string]crypto.Signer{"crypto-rsa": key, "openssl": openSSL(b, key)} {
		b.Run(name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
