// Package fastrsa signs with RSA keys through the system's OpenSSL 3
// (libcrypto.so.3) when the process can load it, and through crypto/rsa
// otherwise. On the CPUs Latchkey runs on, OpenSSL's RSA-2048 signature
// costs a quarter to a third of Go's (AVX-512 IFMA and hand-written
// assembly against crypto/rsa's constant-time generic code), and two of
// them are 40 % of a passkey sign-in's CPU.
//
// PKCS #1 v1.5 signatures are deterministic, so both ways give the same
// bytes: a token or a SAML response never depends on which one signed it.
// Builds without cgo (CGO_ENABLED=0, the static binary) always use
// crypto/rsa.
//
// It must not import other Latchkey packages.
package fastrsa

import (
	"crypto"
	"crypto/rsa"
)

// Signer returns a crypto.Signer for key that makes PKCS #1 v1.5
// signatures of SHA-256, SHA-384 and SHA-512 digests through OpenSSL when
// Backend is OpenSSL, and everything else (PSS, other hashes, keys of more
// than two primes) through key itself. Without OpenSSL it returns key.
func Signer(key *rsa.PrivateKey) crypto.Signer {
	if s, ok := opensslSigner(key); ok {
		return s
	}
	return key
}

// Backend names what Signer's signatures go through: "OpenSSL 3.x.y …" or
// "crypto/rsa (why not OpenSSL)", for the log line at start.
func Backend() string { return backend() }

// viaOpenSSL reports whether a signature with opts can go through OpenSSL
// (whose copy of the key exists only for keys of two primes).
func viaOpenSSL(opts crypto.SignerOpts) bool {
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return false
	}
	switch opts.HashFunc() {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return true
	}
	return false
}
