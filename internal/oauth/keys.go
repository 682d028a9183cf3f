package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/secretbox"
)

// keyring caches the signing keys of the database in memory. Keys are
// reloaded when a token names an unknown kid (another node may have made
// it), at most once per reloadGap.
type keyring struct {
	store Store
	box   *secretbox.Box

	mu       sync.RWMutex
	current  jose.JSONWebKey // the newest private key: signs
	public   map[string]jose.JSONWebKey
	loadedAt time.Time
}

const reloadGap = 5 * time.Second

// ensure creates a signing key when the database has none, then loads the keys.
func (k *keyring) ensure(ctx context.Context) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		if err := k.create(ctx); err != nil {
			return err
		}
	}
	return k.load(ctx)
}

// create generates and stores a new RSA key, which becomes the current one.
func (k *keyring) create(ctx context.Context) error {
	key, err := NewSigningKey(k.box)
	if err != nil {
		return err
	}
	return k.store.CreateSigningKey(ctx, key)
}

// NewSigningKey generates an RSA signing key, its private key sealed with
// box, ready for CreateSigningKey. Bootstrap stores the first one.
func NewSigningKey(box *secretbox.Box) (SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{
		ID: latchkey.RandomString(16), Algorithm: string(jose.RS256),
		PrivateKeySealed: box.Seal(der), CreateTime: time.Now().UTC(),
	}, nil
}

func (k *keyring) load(ctx context.Context) error {
	keys, err := k.store.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return fmt.Errorf("no signing keys in the database")
	}
	slices.SortFunc(keys, func(a, b SigningKey) int { return a.CreateTime.Compare(b.CreateTime) })
	public := make(map[string]jose.JSONWebKey, len(keys))
	var current jose.JSONWebKey
	for _, sk := range keys {
		der, err := k.box.Open(sk.PrivateKeySealed)
		if err != nil {
			return fmt.Errorf("signing key %s: %w (is --master-key the one this database was created with?)", sk.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", sk.ID, err)
		}
		rsaKey, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("signing key %s is not an RSA key", sk.ID)
		}
		current = jose.JSONWebKey{Key: rsaKey, KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}
		public[sk.ID] = jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: sk.ID, Algorithm: sk.Algorithm, Use: "sig"}
	}
	k.mu.Lock()
	k.current, k.public, k.loadedAt = current, public, time.Now()
	k.mu.Unlock()
	return nil
}

// signer returns a signer with the current key and the given jku header.
func (k *keyring) signer(jku string) (jose.Signer, error) {
	k.mu.RLock()
	key := k.current
	k.mu.RUnlock()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("jku", jku)
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
}

// publicKey returns the public key with id kid, reloading once when it is unknown.
func (k *keyring) publicKey(ctx context.Context, kid string) (jose.JSONWebKey, bool) {
	k.mu.RLock()
	key, ok := k.public[kid]
	stale := time.Since(k.loadedAt) > reloadGap
	k.mu.RUnlock()
	if ok || !stale {
		return key, ok
	}
	if err := k.load(ctx); err != nil {
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

// keptKeys is how many signing keys stay published: the current one and
// the one before, whose tokens are still valid after a rotation.
const keptKeys = 2

// RotateKeys makes a new signing key the current one and retires all but
// the previous one (tokens they signed stop verifying), on every node: the
// others load the new key within a minute (ReloadKeys), or at once when
// they meet a token it signed. It returns the new key's id.
func (s *Service) RotateKeys(ctx context.Context) (string, error) {
	key, err := NewSigningKey(s.box)
	if err != nil {
		return "", err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.CreateSigningKey(ctx, key); err != nil {
			return err
		}
		keys, err := tx.ListSigningKeys(ctx)
		if err != nil {
			return err
		}
		slices.SortFunc(keys, func(a, b SigningKey) int { return b.CreateTime.Compare(a.CreateTime) })
		for _, old := range keys[min(keptKeys, len(keys)):] {
			if err := tx.DeleteSigningKey(ctx, old.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return key.ID, s.keys.load(ctx)
}

// ReloadKeys loads the signing keys again, to pick up a rotation made
// elsewhere; it returns no count, for the node's sweep.
func (s *Service) ReloadKeys(ctx context.Context) (int, error) { return 0, s.keys.load(ctx) }
