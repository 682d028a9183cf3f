package backup_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/backup"
)

// TestRoundTrip: what Write wrote, Read gives back, and any cut or changed
// byte makes it ErrCorrupt.
func TestRoundTrip(t *testing.T) {
	db := bytes.Repeat([]byte("page"), 3000)
	key, err := backup.SealKey("the master key", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	h := backup.Header{CreateTime: time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC), SchemaVersion: 23, DatabaseSize: int64(len(db)), MasterKey: key}
	var file bytes.Buffer
	if err := backup.Write(&file, h, bytes.NewReader(db)); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	read, err := backup.Read(bytes.NewReader(file.Bytes()), &got)
	if err != nil || !bytes.Equal(got.Bytes(), db) || read.SchemaVersion != 23 || !read.CreateTime.Equal(h.CreateTime) {
		t.Fatalf("read %+v, %v", read, err)
	}
	if k, err := read.MasterKey.Open([]byte("passphrase")); err != nil || k != "the master key" {
		t.Fatalf("open the key: %q, %v", k, err)
	}
	if _, err := read.MasterKey.Open([]byte("Passphrase")); !errors.Is(err, backup.ErrWrongPassphrase) {
		t.Fatalf("a wrong passphrase: %v", err)
	}
	whole := file.Bytes()
	for _, cut := range []int{0, 5, 20, 100, len(whole) / 2, len(whole) - 32, len(whole) - 1} {
		if _, err := backup.Read(bytes.NewReader(whole[:cut]), &bytes.Buffer{}); !errors.Is(err, backup.ErrCorrupt) {
			t.Errorf("cut at %d of %d: %v", cut, len(whole), err)
		}
	}
	for _, at := range []int{3, 25, len(whole) / 2, len(whole) - 1} {
		changed := bytes.Clone(whole)
		changed[at] ^= 0x40
		if _, err := backup.Read(bytes.NewReader(changed), &bytes.Buffer{}); err == nil {
			t.Errorf("byte %d changed: read", at)
		}
	}
	if err := backup.Write(&bytes.Buffer{}, backup.Header{DatabaseSize: 1}, bytes.NewReader(db)); err == nil {
		t.Error("Write took a database of another size than the header's")
	}
}

// TestSealKeyNeedsPassphrase: an empty passphrase seals nothing.
func TestSealKeyNeedsPassphrase(t *testing.T) {
	if _, err := backup.SealKey("k", nil); err == nil {
		t.Fatal("sealed with an empty passphrase")
	}
}
