package bootstrap_test

import (
	"context"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkey/latchkey/internal/bootstrap"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

// algorithms counts the signing keys of each algorithm.
func algorithms(t *testing.T, st *sqlstore.Store) map[string]int {
	t.Helper()
	keys, err := st.ListSigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, k := range keys {
		n[k.Algorithm]++
	}
	return n
}

// TestSigningKeysOnOlderDatabase: a database bootstrapped when Latchkey
// signed with RS256 alone gets its ES256 key when nodes start on it
// together, exactly one, and keeps its RS256 key; a fresh one has one of
// each from the start.
func TestSigningKeysOnOlderDatabase(t *testing.T) {
	st := testenv.OpenPostgres(t)
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	issuer := oauth.NewService(st.OAuth(), box, nil, base).Issuer
	all := oauth.SigningAlgorithms
	oauth.SigningAlgorithms = []jose.SignatureAlgorithm{oauth.TokenAlgorithm}
	_, _, err = bootstrap.Run(t.Context(), st, box, nil, issuer, base)
	oauth.SigningAlgorithms = all
	if err != nil {
		t.Fatal(err)
	}
	if n := algorithms(t, st); n["RS256"] != 1 || n["ES256"] != 0 {
		t.Fatalf("the older bootstrap made %v", n)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, created, err := bootstrap.Run(context.Background(), st, box, nil, issuer, base); err != nil || created {
				t.Errorf("start on the older database: created %v, %v", created, err)
			}
		})
	}
	wg.Wait()
	if n := algorithms(t, st); n["RS256"] != 1 || n["ES256"] != 1 {
		t.Fatalf("after the nodes started: %v, want one key of each", n)
	}

	fresh, _, _ := fresh(t, testenv.OpenSQLite)
	n := algorithms(t, fresh)
	for _, alg := range all {
		if n[string(alg)] != 1 || len(n) != len(all) {
			t.Fatalf("a fresh bootstrap made %v", n)
		}
	}
}
