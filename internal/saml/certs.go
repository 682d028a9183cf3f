package saml

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/fastrsa"
)

// certificateLifetime is how long a signing certificate is valid. SAML
// service providers take the key from the metadata and rarely check the
// validity; rotation (Rotate) replaces it well before.
const certificateLifetime = 10 * 365 * 24 * time.Hour

// keptPrevious is how long a certificate stays in the metadata after a
// newer one started to sign: SPs that check a Response against a cached
// copy of the metadata still find the key that signed it.
const keptPrevious = 7 * 24 * time.Hour

// signingKey is a certificate with its key opened.
type signingKey struct {
	Certificate
	cert   *x509.Certificate
	key    *rsa.PrivateKey
	signer crypto.Signer // key's, through fastrsa
}

// keyCache keeps the certificates opened by id: they never change, and
// opening one (secretbox, RSA parsing) costs more than the rest of a
// Response's signature.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]*signingKey
}

func (c *keyCache) open(s *Service, cert Certificate) (*signingKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[cert.ID]; ok {
		return k, nil
	}
	der, err := s.box.Open(cert.PrivateKeySealed)
	if err != nil {
		return nil, fmt.Errorf("saml certificate %s: %w", cert.ID, err)
	}
	key, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("saml certificate %s: %w", cert.ID, err)
	}
	parsed, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return nil, fmt.Errorf("saml certificate %s: %w", cert.ID, err)
	}
	if c.keys == nil {
		c.keys = map[string]*signingKey{}
	}
	k := &signingKey{Certificate: cert, cert: parsed, key: key, signer: fastrsa.Signer(key)}
	c.keys[cert.ID] = k
	return k, nil
}

// newCertificate makes an RSA 2048 key and its self-signed certificate for
// the realm, signing from activate.
func (s *Service) newCertificate(tenantID, realmID string, activate time.Time) (Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Certificate{}, err
	}
	now := s.Clock.Now()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Latchkey SAML " + realmID, Organization: []string{"Latchkey"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certificateLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Certificate{}, err
	}
	return Certificate{ID: latchkey.NewUUID(), TenantID: tenantID, RealmID: realmID, DER: der,
		PrivateKeySealed: s.box.Seal(x509.MarshalPKCS1PrivateKey(key)), ActivateTime: activate, CreateTime: now}, nil
}

// keyring is a realm's certificates at a time: the one that signs, and
// those the metadata publishes besides it (the next, and the previous
// while keptPrevious lasts).
type keyring struct {
	current *signingKey
	others  []*signingKey
}

// keys returns the realm's keyring at now, making its first certificate
// when it has none: of nodes that race to make it, one wins and the others
// read its certificate. The list is trusted for nodecache.TTL: a rotation
// on another node is seen within it (a new certificate is published before
// it signs, so no SP meets a signature it does not know).
func (s *Service) keys(ctx context.Context, tenantID, realmID string) (keyring, error) {
	key := tenantID + "/" + realmID
	if certs, ok := s.certs.Get(key, s.Clock.Now()); ok {
		return s.ring(certs, s.Clock.Now())
	}
	certs, err := s.store.ListSAMLCertificates(ctx, tenantID, realmID)
	if err != nil {
		return keyring{}, err
	}
	if len(certs) == 0 {
		first, err := s.newCertificate(tenantID, realmID, time.Unix(0, 0).UTC())
		if err != nil {
			return keyring{}, err
		}
		if err := s.store.CreateSAMLCertificate(ctx, first); err != nil && !errors.Is(err, latchkey.ErrDuplicate) {
			return keyring{}, err
		}
		if certs, err = s.store.ListSAMLCertificates(ctx, tenantID, realmID); err != nil {
			return keyring{}, err
		}
	}
	s.certs.Put(key, certs, s.Clock.Now())
	return s.ring(certs, s.Clock.Now())
}

// ring sorts certs (oldest activation first) into a keyring at now.
func (s *Service) ring(certs []Certificate, now time.Time) (keyring, error) {
	var ring keyring
	current := -1
	for i, c := range certs {
		if !c.ActivateTime.After(now) {
			current = i
		}
	}
	if current < 0 {
		return ring, errors.New("saml: no signing certificate is active yet")
	}
	for i, c := range certs {
		// Published: the current one, those to come, and the one before
		// the current while it may still be cached.
		if i < current-1 || (i == current-1 && now.Sub(certs[current].ActivateTime) > keptPrevious) {
			continue
		}
		k, err := s.cache.open(s, c)
		if err != nil {
			return ring, err
		}
		if i == current {
			ring.current = k
		} else {
			ring.others = append(ring.others, k)
		}
	}
	return ring, nil
}

// Rotate makes a new signing certificate for the realm that starts to sign
// after overlap: until then the metadata publishes it beside the current
// one, so that SPs that refresh the metadata trust it before it signs.
// Certificates older than the previous one are deleted. It returns the new
// certificate.
func (s *Service) Rotate(ctx context.Context, tenantID, realmID string, overlap time.Duration) (Certificate, error) {
	if _, err := directory.LookupRealm(ctx, s.store, tenantID, realmID); err != nil {
		return Certificate{}, err
	}
	if overlap < 0 {
		return Certificate{}, latchkey.InvalidField("overlap", "must not be negative")
	}
	if _, err := s.keys(ctx, tenantID, realmID); err != nil {
		return Certificate{}, err
	}
	next, err := s.newCertificate(tenantID, realmID, s.Clock.Now().Add(overlap))
	if err != nil {
		return Certificate{}, err
	}
	err = s.store.Update(ctx, func(tx Tx) error {
		certs, err := tx.ListSAMLCertificates(ctx, tenantID, realmID)
		if err != nil {
			return err
		}
		if err := tx.CreateSAMLCertificate(ctx, next); err != nil {
			return err
		}
		// Keep the newest two before the new one: the current and the one
		// before it (or the current and a pending next).
		for i := 0; i < len(certs)-2; i++ {
			if err := tx.DeleteSAMLCertificate(ctx, tenantID, realmID, certs[i].ID); err != nil {
				return err
			}
		}
		return nil
	})
	s.certs.Clear()
	return next, err
}
