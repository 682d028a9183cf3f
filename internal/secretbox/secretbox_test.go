package secretbox_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/secretbox"
)

// TestPreviousKey: a box opens what it and its previous key sealed, seals
// with its own key only, and Reseal turns the one into the other.
func TestPreviousKey(t *testing.T) {
	oldKey, newKey := secretbox.NewKey(), secretbox.NewKey()
	old, _ := secretbox.New(oldKey)
	both, err := secretbox.New(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	onlyNew, _ := secretbox.New(newKey)
	sealedOld := old.Seal([]byte("secret"))
	if pt, err := both.Open(sealedOld); err != nil || string(pt) != "secret" {
		t.Fatalf("open with the previous key: %q, %v", pt, err)
	}
	if _, err := onlyNew.Open(sealedOld); !errors.Is(err, secretbox.ErrWrongKey) {
		t.Fatalf("the new key alone opened the old secret: %v", err)
	}
	resealed, changed, err := both.Reseal(sealedOld)
	if err != nil || !changed {
		t.Fatalf("reseal: %v, %v", changed, err)
	}
	if pt, err := onlyNew.Open(resealed); err != nil || string(pt) != "secret" {
		t.Fatalf("the resealed secret under the new key: %q, %v", pt, err)
	}
	if again, changed, err := both.Reseal(resealed); err != nil || changed || again != resealed {
		t.Fatalf("reseal of a resealed secret: %v, %v", changed, err)
	}
	if _, err := old.Open(both.Seal([]byte("x"))); err == nil {
		t.Fatal("a box with a previous key sealed with it")
	}
	if _, _, err := old.Reseal(onlyNew.Seal([]byte("x"))); !errors.Is(err, secretbox.ErrWrongKey) {
		t.Fatalf("reseal of a secret no key opens: %v", err)
	}
	if _, err := secretbox.New(newKey, "not a key"); err == nil {
		t.Fatal("a malformed previous key was taken")
	}
}
