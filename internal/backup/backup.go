// Package backup owns the file format of `latchkey backup`: a header (what
// made it, the schema version, the database's size, and optionally the
// master key sealed with a passphrase), a snapshot of the embedded SQLite
// database, and a SHA-256 of everything before it, so that a torn or
// altered file is refused before anything is restored from it.
//
// The master key is sealed with AES-256-GCM under a key derived from the
// passphrase with scrypt (golang.org/x/crypto/scrypt).
//
// It must not import other Latchkey packages.
package backup

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/scrypt"
)

// magic opens every backup file.
const magic = "LATCHKEY-BACKUP\n"

// Format is the version of the file layout this package writes and reads.
const Format = 1

// maxHeader bounds the header that Read accepts before it can verify it.
const maxHeader = 1 << 20

// Header describes a backup.
type Header struct {
	Format          int       `json:"format"`
	CreateTime      time.Time `json:"create_time"`
	LatchkeyVersion string    `json:"latchkey_version"`
	// SchemaVersion is the database's migration version: a binary that
	// knows fewer migrations must not restore it.
	SchemaVersion int64 `json:"schema_version"`
	DatabaseSize  int64 `json:"database_size"`
	// MasterKey is present only when the backup was asked to carry it.
	MasterKey *SealedKey `json:"master_key,omitempty"`
}

// ErrCorrupt means the file is not a whole, unaltered backup.
var ErrCorrupt = errors.New("the backup file is torn or corrupt")

// Write writes a backup: h, then the h.DatabaseSize bytes of db, then the
// checksum.
func Write(w io.Writer, h Header, db io.Reader) error {
	h.Format = Format
	head, err := json.Marshal(h)
	if err != nil {
		return err
	}
	sum := sha256.New()
	bw := bufio.NewWriter(io.MultiWriter(w, sum))
	bw.WriteString(magic)
	binary.Write(bw, binary.BigEndian, uint32(len(head)))
	bw.Write(head)
	n, err := io.Copy(bw, db)
	if err != nil {
		return err
	}
	if n != h.DatabaseSize {
		return fmt.Errorf("backup: the database is %d bytes, the header says %d", n, h.DatabaseSize)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

// Read reads a backup written by Write, copying its database to db, and
// returns its header once the checksum has proved the whole file intact;
// otherwise ErrCorrupt (and db holds bytes to throw away).
func Read(r io.Reader, db io.Writer) (Header, error) {
	sum := sha256.New()
	br := bufio.NewReader(r)
	in := io.TeeReader(br, sum)
	var h Header
	start := make([]byte, len(magic)+4)
	if _, err := io.ReadFull(in, start); err != nil || string(start[:len(magic)]) != magic {
		return h, fmt.Errorf("%w: not a Latchkey backup", ErrCorrupt)
	}
	size := binary.BigEndian.Uint32(start[len(magic):])
	if size > maxHeader {
		return h, fmt.Errorf("%w: header of %d bytes", ErrCorrupt, size)
	}
	head := make([]byte, size)
	if _, err := io.ReadFull(in, head); err != nil {
		return h, fmt.Errorf("%w: the header is cut short", ErrCorrupt)
	}
	if err := json.Unmarshal(head, &h); err != nil || h.DatabaseSize < 0 {
		return h, fmt.Errorf("%w: the header is unreadable", ErrCorrupt)
	}
	if h.Format != Format {
		return h, fmt.Errorf("backup format %d is not one this binary reads (%d)", h.Format, Format)
	}
	n, err := io.Copy(db, io.LimitReader(in, h.DatabaseSize))
	if err != nil {
		return h, err
	}
	if n != h.DatabaseSize {
		return h, fmt.Errorf("%w: %d of the database's %d bytes are there", ErrCorrupt, n, h.DatabaseSize)
	}
	want := sum.Sum(nil)
	got := make([]byte, len(want)+1)
	if k, _ := io.ReadFull(br, got); k != len(want) || !bytes.Equal(got[:k], want) {
		return h, fmt.Errorf("%w: the checksum does not match", ErrCorrupt)
	}
	return h, nil
}

// SealedKey is a master key sealed with a passphrase.
type SealedKey struct {
	KDF    string `json:"kdf"` // "scrypt"
	N      int    `json:"n"`
	R      int    `json:"r"`
	P      int    `json:"p"`
	Salt   []byte `json:"salt"`
	Sealed []byte `json:"sealed"` // AES-256-GCM: nonce, then ciphertext and tag
}

// scrypt's cost: 2^15 (about 32 MiB and 0.1 s), the package's own
// recommendation for interactive use, as a passphrase is typed rarely.
const scryptN, scryptR, scryptP = 1 << 15, 8, 1

// ErrWrongPassphrase means the passphrase does not open the sealed key.
var ErrWrongPassphrase = errors.New("the passphrase does not open the backup's master key")

// SealKey seals masterKey with passphrase.
func SealKey(masterKey string, passphrase []byte) (*SealedKey, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("the passphrase is empty")
	}
	k := &SealedKey{KDF: "scrypt", N: scryptN, R: scryptR, P: scryptP, Salt: make([]byte, 16)}
	rand.Read(k.Salt)
	aead, err := k.aead(passphrase)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	k.Sealed = aead.Seal(nonce, nonce, []byte(masterKey), []byte(magic))
	return k, nil
}

// Open returns the master key, or ErrWrongPassphrase.
func (k *SealedKey) Open(passphrase []byte) (string, error) {
	if k.KDF != "scrypt" {
		return "", fmt.Errorf("the backup's master key is sealed with %q, which this binary does not know", k.KDF)
	}
	aead, err := k.aead(passphrase)
	if err != nil {
		return "", err
	}
	n := aead.NonceSize()
	if len(k.Sealed) < n {
		return "", ErrWrongPassphrase
	}
	key, err := aead.Open(nil, k.Sealed[:n], k.Sealed[n:], []byte(magic))
	if err != nil {
		return "", ErrWrongPassphrase
	}
	return string(key), nil
}

func (k *SealedKey) aead(passphrase []byte) (cipher.AEAD, error) {
	key, err := scrypt.Key(passphrase, k.Salt, k.N, k.R, k.P, 32)
	if err != nil {
		return nil, fmt.Errorf("the backup's key derivation: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
