package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/fastrsa"
	"github.com/latchkey/latchkey/internal/secretbox"
)

// The algorithms Latchkey signs with. Tokens (access and ID) are RS256,
// which every OIDC and OAuth client must accept, unless the application
// chose another of TokenAlgorithms. The embedded SDK's
// request JWT at /authorize is ES256: the SDK verifies it with the jku's
// JWKS and accepts an EC key there (tested with the official SDK), and
// signing it costs about 1/30 of an RS256 signature, which is a third of
// a passkey sign-in's signing work.
const (
	TokenAlgorithm      = jose.RS256
	SDKRequestAlgorithm = jose.ES256
)

// TokenAlgorithms are the algorithms an application may sign its tokens
// with (token_configuration.token_signing_algorithm): RS256, the default and
// what Beyond Identity's clients expect, or ES256, a Latchkey extension whose
// signature costs a small fraction of an RS256 one. ES256 tokens share the
// ES256 key of the SDK's request JWTs: a request JWT has no token record,
// so it never verifies as a token.
var TokenAlgorithms = []string{string(jose.RS256), string(jose.ES256)}

// tokenAlgorithm is the algorithm app's tokens are signed with.
func tokenAlgorithm(app Application) jose.SignatureAlgorithm {
	if alg := app.ProtocolConfig.TokenConfiguration.TokenSigningAlgorithm; alg != "" {
		return jose.SignatureAlgorithm(alg)
	}
	return TokenAlgorithm
}

// SigningAlgorithms are the algorithms that have a current key each.
var SigningAlgorithms = []jose.SignatureAlgorithm{TokenAlgorithm, SDKRequestAlgorithm}

// keyring caches the signing keys of the database in memory. Keys are
// reloaded when a token names an unknown kid (another node may have made
// it), at most once per reloadGap.
type keyring struct {
	store Store
	box   *secretbox.Box

	mu       sync.RWMutex
	current  map[jose.SignatureAlgorithm]jose.JSONWebKey // the newest private key of each algorithm: signs
	public   map[string]jose.JSONWebKey
	loadedAt time.Time
}

const reloadGap = 5 * time.Second

// ensure creates a signing key of each algorithm the database has none
// of, then loads the keys. Bootstrap makes them first, race-free
// (EnsureSigningKeys); this serves a database that was never bootstrapped.
func (k *keyring) ensure(ctx context.Context, now time.Time) error {
	if err := k.store.Update(ctx, func(tx Tx) error { return EnsureSigningKeys(ctx, tx, k.box, now, nil) }); err != nil {
		return err
	}
	return k.load(ctx, now)
}

// EnsureSigningKeys creates a key for each algorithm of SigningAlgorithms
// that has none in the database, made at now. Before it creates one it calls lock, if
// given, with the algorithm, and looks again: of concurrent callers only
// one may go on past lock, and the others then find its key.
func EnsureSigningKeys(ctx context.Context, tx Tx, box *secretbox.Box, now time.Time, lock func(algorithm string) error) error {
	has := func(alg jose.SignatureAlgorithm) (bool, error) {
		keys, err := tx.ListSigningKeys(ctx)
		return slices.ContainsFunc(keys, func(k SigningKey) bool { return k.Algorithm == string(alg) }), err
	}
	for _, alg := range SigningAlgorithms {
		ok, err := has(alg)
		if err == nil && !ok && lock != nil {
			if err = lock(string(alg)); err == nil {
				ok, err = has(alg)
			}
		}
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		key, err := NewSigningKey(box, alg, now)
		if err != nil {
			return err
		}
		if err := tx.CreateSigningKey(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// NewSigningKey generates a signing key for alg (RS256: RSA 2048; ES256:
// P-256) made at now, its private key sealed with box, ready for CreateSigningKey.
func NewSigningKey(box *secretbox.Box, alg jose.SignatureAlgorithm, now time.Time) (SigningKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		err = fmt.Errorf("no signing keys for %s", alg)
	}
	if err != nil {
		return SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{
		ID: latchkey.RandomString(16), Algorithm: string(alg),
		PrivateKeySealed: box.Seal(der), CreateTime: now,
	}, nil
}

// load reads the keys at now.
func (k *keyring) load(ctx context.Context, now time.Time) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(keys, func(a, b SigningKey) int { return a.CreateTime.Compare(b.CreateTime) })
	public := make(map[string]jose.JSONWebKey, len(keys))
	current := make(map[jose.SignatureAlgorithm]jose.JSONWebKey, len(SigningAlgorithms))
	for _, sk := range keys {
		der, err := k.box.Open(sk.PrivateKeySealed)
		if err != nil {
			return fmt.Errorf("signing key %s: %w (is --master-key the one this database was created with?)", sk.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", sk.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return fmt.Errorf("signing key %s is not a signing key", sk.ID)
		}
		alg := jose.SignatureAlgorithm(sk.Algorithm)
		current[alg] = jose.JSONWebKey{Key: tokenSigner(signer), KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}
		public[sk.ID] = jose.JSONWebKey{Key: signer.Public(), KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}
		if alg == jose.RS256 {
			if public[sk.ID], err = k.withCertificate(public[sk.ID], sk, signer); err != nil {
				return fmt.Errorf("signing key %s: %w", sk.ID, err)
			}
		}
	}
	for _, alg := range SigningAlgorithms {
		if _, ok := current[alg]; !ok {
			return fmt.Errorf("no %s signing key in the database", alg)
		}
	}
	k.mu.Lock()
	k.current, k.public, k.loadedAt = current, public, now
	k.mu.Unlock()
	return nil
}

// tokenSigner is what go-jose signs tokens of key with: an RSA key signs
// through fastrsa (OpenSSL when it can), other keys themselves.
func tokenSigner(key crypto.Signer) any {
	if rsaKey, ok := key.(*rsa.PrivateKey); ok {
		return cryptosigner.Opaque(fastrsa.Signer(rsaKey))
	}
	return key
}

// withCertificate adds to the public RS256 key pub its certificate (x5c),
// which Entra ID wants of an external authentication method's keys: self-signed,
// dated from the key's creation, the same on every node (an RSA PKCS #1 v1.5
// signature is deterministic), and made once per key on each node.
func (k *keyring) withCertificate(pub jose.JSONWebKey, sk SigningKey, priv crypto.Signer) (jose.JSONWebKey, error) {
	k.mu.RLock()
	known := k.public[sk.ID].Certificates
	k.mu.RUnlock()
	if len(known) > 0 {
		pub.Certificates = known
		return pub, nil
	}
	serial := sha256.Sum256([]byte(sk.ID))
	from := sk.CreateTime.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: new(big.Int).SetBytes(serial[:16]), Subject: pkix.Name{CommonName: "Latchkey token signing key " + sk.ID},
		NotBefore: from, NotAfter: from.AddDate(20, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return pub, err
	}
	cert, err := x509.ParseCertificate(der)
	pub.Certificates = []*x509.Certificate{cert}
	return pub, err
}

// signer returns a signer with the current key of alg and the given typ
// and jku headers.
func (k *keyring) signer(alg jose.SignatureAlgorithm, typ, jku string) (jose.Signer, error) {
	k.mu.RLock()
	key := k.current[alg]
	k.mu.RUnlock()
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("jku", jku)
	return jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
}

// publicKey returns the public key with id kid, reloading once when it is unknown.
func (k *keyring) publicKey(ctx context.Context, kid string, now time.Time) (jose.JSONWebKey, bool) {
	k.mu.RLock()
	key, ok := k.public[kid]
	stale := now.Sub(k.loadedAt) > reloadGap
	k.mu.RUnlock()
	if ok || !stale {
		return key, ok
	}
	if err := k.load(ctx, now); err != nil {
		return jose.JSONWebKey{}, false
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	key, ok = k.public[kid]
	return key, ok
}

// jwks returns the public keys.
func (k *keyring) jwks() jose.JSONWebKeySet {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var set jose.JSONWebKeySet
	for _, key := range k.public {
		set.Keys = append(set.Keys, key)
	}
	slices.SortFunc(set.Keys, func(a, b jose.JSONWebKey) int { return strings.Compare(a.KeyID, b.KeyID) })
	return set
}

// keptKeys is how many signing keys of each algorithm stay published: the
// current one and the one before, whose tokens are still valid after a
// rotation.
const keptKeys = 2

// RotateKeys makes a new signing key of each algorithm the current one and
// retires all but the previous one of each (tokens they signed stop
// verifying), on every node: the others load the new keys within a minute
// (ReloadKeys), or at once when they meet a token one signed. It returns
// the new keys' ids in the order of SigningAlgorithms.
func (s *Service) RotateKeys(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.store.Update(ctx, func(tx Tx) error {
		keys, err := tx.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		// Newest first; the key made below is the first one kept.
		slices.SortFunc(keys, func(a, b SigningKey) int { return b.CreateTime.Compare(a.CreateTime) })
		for _, alg := range SigningAlgorithms {
			key, err := NewSigningKey(s.box, alg, s.Clock.Now())
			if err != nil {
				return err
			}
			if err := tx.CreateSigningKey(ctx, key); err != nil {
				return err
			}
			ids = append(ids, key.ID)
			kept := 1
			for _, old := range keys {
				if old.Algorithm != string(alg) {
					continue
				}
				if kept++; kept > keptKeys {
					if err := tx.DeleteSigningKey(ctx, old.ID); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, s.keys.load(ctx, s.Clock.Now())
}

// ReloadKeys loads the signing keys again, to pick up a rotation made
// elsewhere; it returns no count, for the node's sweep.
func (s *Service) ReloadKeys(ctx context.Context) (int, error) {
	return 0, s.keys.load(ctx, s.Clock.Now())
}
