package bootstrap_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestRotateMasterKey: a rotation interrupted after its first batch leaves
// every secret open to a box of both keys and the database still refusing
// the new key alone; run again, it finishes, each secret re-encrypted
// once, and then the new key alone opens everything and the old one is
// refused. A secret that none of the keys opens stops it with its table.
func TestRotateMasterKey(t *testing.T) {
	for _, engine := range testenv.Engines() {
		t.Run(engine.Name, func(t *testing.T) {
			st := engine.Open(t)
			oldKey, newKey := secretbox.NewKey(), secretbox.NewKey()
			oldBox, _ := secretbox.New(oldKey)
			both, _ := secretbox.New(newKey, oldKey)
			newBox, _ := secretbox.New(newKey)
			issuer := oauth.NewService(st.OAuth(), oldBox, nil, base).Issuer
			if err := bootstrap.CheckMasterKey(t.Context(), st, oldBox); err != nil {
				t.Fatal(err)
			}
			creds, _, err := bootstrap.Run(t.Context(), st, oldBox, nil, issuer, base)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := bootstrap.EnsureConsole(t.Context(), st, oldBox, nil, creds, bootstrap.AdminOptions{}, base); err != nil {
				t.Fatal(err)
			}
			sealed := countSealed(t, st, oldBox) + 1 // and the master key's check

			ctx, interrupt := context.WithCancel(t.Context())
			changed := 0
			err = bootstrap.RotateMasterKey(ctx, st, both, 1, func(_ string, n int) {
				changed += n
				interrupt() // the next batch's transaction does not commit
			})
			if !errors.Is(err, context.Canceled) || changed != 1 {
				t.Fatalf("interrupted rotation: %v after %d", err, changed)
			}
			if countSealed(t, st, both) != sealed-1 {
				t.Fatal("a secret became unreadable to both keys")
			}
			if err := bootstrap.CheckMasterKey(t.Context(), st, newBox); err == nil {
				t.Fatal("the new key alone was accepted before the rotation finished")
			}

			if err := bootstrap.RotateMasterKey(t.Context(), st, both, 2, func(_ string, n int) { changed += n }); err != nil {
				t.Fatal(err)
			}
			if changed != sealed {
				t.Fatalf("%d re-encryptions for %d secrets", changed, sealed)
			}
			if err := bootstrap.CheckMasterKey(t.Context(), st, newBox); err != nil {
				t.Fatal(err)
			}
			if countSealed(t, st, newBox) != sealed-1 {
				t.Fatal("the new key alone does not open every secret")
			}
			if err := bootstrap.CheckMasterKey(t.Context(), st, oldBox); err == nil {
				t.Fatal("the old key alone is still accepted")
			}
			if got, err := bootstrap.ReadCredentials(t.Context(), st, newBox, issuer, base); err != nil || got.ClientSecret != creds.ClientSecret {
				t.Fatalf("the management secret under the new key: %v", err)
			}

			other, _ := secretbox.New(secretbox.NewKey())
			err = bootstrap.RotateMasterKey(t.Context(), st, other, 10, func(string, int) {})
			if !errors.Is(err, secretbox.ErrWrongKey) || !strings.Contains(err.Error(), "applications") {
				t.Fatalf("rotation with keys that open nothing: %v", err)
			}
		})
	}
}

// countSealed opens every client secret and signing key with box, failing
// the test on one it cannot open, and returns how many there are.
func countSealed(t *testing.T, st *sqlstore.Store, box *secretbox.Box) int {
	t.Helper()
	n := 0
	err := st.Reseal(t.Context(), nil, 100, func(sealed string) (string, bool, error) {
		n++
		_, err := box.Open(sealed)
		return sealed, false, err
	}, func(string, int) {})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
