// Package secretbox encrypts secrets at rest (signing keys, client secrets)
// with the master key, using AES-256-GCM from the standard library, and
// manages the master key file of a data directory.
//
// It must not import other Latchkey packages.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile is the name of the generated master key inside the data directory.
const KeyFile = "master.key"

// Box seals and opens secrets with one master key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a master key given as base64 (standard or URL
// alphabet, padded or not) of exactly 32 bytes.
func New(encodedKey string) (*Box, error) {
	key, err := decodeKey(strings.TrimSpace(encodedKey))
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == 32 {
			return k, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes in base64 (e.g. the output of `openssl rand -base64 32`)")
}

// NewKey returns a fresh master key in the form New accepts.
func NewKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// LoadOrCreate returns the master key kept in dir, creating it (mode 0600)
// when there is none.
func LoadOrCreate(dir string) (string, error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	key := NewKey()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
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

// Seal encrypts plaintext; the result is text safe for any column.
func (b *Box) Seal(plaintext []byte) string {
	nonce := make([]byte, b.aead.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plaintext, nil))
}

// ErrWrongKey means a sealed secret was not made with this master key.
var ErrWrongKey = errors.New("secret was sealed with a different master key")

// Open decrypts what Seal returned.
func (b *Box) Open(sealed string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return nil, fmt.Errorf("sealed secret is malformed")
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], nil)
	if err != nil {
		return nil, ErrWrongKey
	}
	return pt, nil
}
