//go:build cgo && linux

package fastrsa

import (
	"crypto"
	"crypto/rsa"
	"io"
	"math/big"
	"sync"

	"github.com/golang-fips/openssl/v2"
	"github.com/golang-fips/openssl/v2/bbig"
)

// libcrypto is the OpenSSL 3 library of Debian, Ubuntu, RHEL and Alpine.
const libcrypto = "libcrypto.so.3"

var loaded = sync.OnceValue(func() error { return openssl.Init(libcrypto) })

func backend() string {
	if err := loaded(); err != nil {
		return "crypto/rsa (" + err.Error() + ")"
	}
	return openssl.VersionText()
}

// signer signs through OpenSSL with key's copy in it, and through key
// when OpenSSL cannot (see viaOpenSSL).
type signer struct {
	key *rsa.PrivateKey
	ssl *openssl.PrivateKeyRSA
}

func opensslSigner(key *rsa.PrivateKey) (crypto.Signer, bool) {
	if loaded() != nil || len(key.Primes) != 2 {
		return nil, false
	}
	key.Precompute()
	pre := key.Precomputed
	ssl, err := openssl.NewPrivateKeyRSA(bbig.Enc(key.N), bbig.Enc(big.NewInt(int64(key.E))), bbig.Enc(key.D),
		bbig.Enc(key.Primes[0]), bbig.Enc(key.Primes[1]), bbig.Enc(pre.Dp), bbig.Enc(pre.Dq), bbig.Enc(pre.Qinv))
	if err != nil {
		return nil, false
	}
	return signer{key: key, ssl: ssl}, true
}

func (s signer) Public() crypto.PublicKey { return &s.key.PublicKey }

func (s signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if !viaOpenSSL(opts) {
		return s.key.Sign(rand, digest, opts)
	}
	return openssl.SignRSAPKCS1v15(s.ssl, opts.HashFunc(), digest)
}
