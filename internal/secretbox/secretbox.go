// Package secretbox encrypts secrets at rest (signing keys, client secrets)
// with the master key, using AES-256-GCM from the standard library, keys
// the hashes of short secrets with it (MAC), and
// manages the master key file of a data directory. During a rotation of the
// master key a Box also opens what the previous key sealed.
//
// It must not import other Latchkey packages.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the name of the generated master key inside the data directory.
const KeyFile = "master.key"

// Box seals secrets with one master key and opens them with it or with
// the previous keys it was given.
type Box struct {
	aead     cipher.AEAD   // the master key: seals and opens
	previous []cipher.AEAD // open only
	macKey   []byte        // derived from the master key, for MAC
}

// New returns a Box for a master key given as base64 (standard or URL
// alphabet, padded or not) of exactly 32 bytes, which also opens what the
// previous keys (same form; empty ones are ignored) sealed.
func New(encodedKey string, previous ...string) (*Box, error) {
	aead, err := newAEAD(encodedKey)
	if err != nil {
		return nil, err
	}
	key, _ := decodeKey(strings.TrimSpace(encodedKey))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("latchkey mac key"))
	b := &Box{aead: aead, macKey: mac.Sum(nil)}
	for _, p := range previous {
		if strings.TrimSpace(p) == "" {
			continue
		}
		a, err := newAEAD(p)
		if err != nil {
			return nil, fmt.Errorf("previous master key: %w", err)
		}
		b.previous = append(b.previous, a)
	}
	return b, nil
}

func newAEAD(encodedKey string) (cipher.AEAD, error) {
	key, err := decodeKey(strings.TrimSpace(encodedKey))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes in base64 (e.g. the output of `openssl rand -base64 32`)")
}

// MAC returns the HMAC-SHA256 of data under a key derived from the master
// key: a keyed hash for short secrets (one-time codes), which a copy of the
// database alone cannot brute-force. A new master key changes every MAC.
func (b *Box) MAC(data []byte) []byte {
	mac := hmac.New(sha256.New, b.macKey)
	mac.Write(data)
	return mac.Sum(nil)
}

// NewKey returns a fresh master key in the form New accepts.
func NewKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// Load returns the master key kept in dir.
func Load(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, KeyFile))
	return strings.TrimSpace(string(b)), err
}

// LoadOrCreate returns the master key kept in dir, creating it (mode 0600)
// when there is none.
func LoadOrCreate(dir string) (string, error) {
	key, err := Load(dir)
	if !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key = NewKey()
	f, err := os.OpenFile(filepath.Join(dir, KeyFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process won the race
		return LoadOrCreate(dir)
	}
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", err
	}
	return key, f.Close()
}

// PreviousKeyFile keeps the key that Replace replaced.
const PreviousKeyFile = KeyFile + ".previous"

// Replace makes key the master key kept in dir, keeping the one it
// replaces in PreviousKeyFile (for backups made with it).
func Replace(dir, key string) error {
	old, err := Load(dir)
	if err != nil {
		return err
	}
	// The old key is kept before it is replaced.
	for _, f := range [][2]string{{PreviousKeyFile, old}, {KeyFile, key}} {
		name, k := f[0], f[1]
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, []byte(k+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// Seal encrypts plaintext; the result is text safe for any column.
func (b *Box) Seal(plaintext []byte) string {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plaintext, nil))
}

// ErrWrongKey means a sealed secret was not made with this master key.
var ErrWrongKey = errors.New("secret was sealed with a different master key")

// Open decrypts what Seal returned, with this Box's key or a previous one.
func (b *Box) Open(sealed string) ([]byte, error) {
	pt, _, err := b.open(sealed)
	return pt, err
}

// Reseal returns sealed sealed anew with the master key and true when a
// previous key sealed it, or sealed itself and false when the master key
// did; ErrWrongKey when none of the keys did.
func (b *Box) Reseal(sealed string) (string, bool, error) {
	pt, current, err := b.open(sealed)
	if err != nil || current {
		return sealed, false, err
	}
	return b.Seal(pt), true, nil
}

// open decrypts sealed and says whether the master key (not a previous
// one) opened it.
func (b *Box) open(sealed string) ([]byte, bool, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	n := b.aead.NonceSize() // the same for every key: GCM's standard nonce
	if err != nil || len(raw) < n {
		return nil, false, fmt.Errorf("sealed secret is malformed")
	}
	for i, aead := range append([]cipher.AEAD{b.aead}, b.previous...) {
		if pt, err := aead.Open(nil, raw[:n], raw[n:], nil); err == nil {
			return pt, i == 0, nil
		}
	}
	return nil, false, ErrWrongKey
}
