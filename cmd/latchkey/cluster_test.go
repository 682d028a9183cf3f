package main_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
)

// startCluster starts two nodes on one PostgreSQL database at the same
// time, and checks that they bootstrapped it exactly once (the same
// credentials in both bootstrap.json files, one banner), publish the same
// signing keys, and accept each other's tokens.
func startCluster(t *testing.T, dsn string) (a, b *node) {
	t.Helper()
	args := append([]string{"--database", dsn, "--master-key", newMasterKey()}, noRateLimits...)
	var nodes [2]*node
	for i := range nodes {
		addr, dir := freeAddr(t), t.TempDir()
		nodes[i] = launch(t, addr, dir, nil, append([]string{"serve", "--listen", addr, "--data-dir", dir}, args...)...)
	}
	for _, n := range nodes {
		n.waitReady(t)
	}
	a, b = nodes[0], nodes[1]
	ca, cb := credentials(t, a.DataDir), credentials(t, b.DataDir)
	for _, k := range []string{"tenant_id", "realm_id", "application_id", "client_id", "client_secret"} {
		if ca[k] != cb[k] {
			t.Errorf("bootstrap.json %s: node A %q, node B %q", k, ca[k], cb[k])
		}
	}
	if banners := strings.Count(a.stdout.String()+b.stdout.String(), banner); banners != 1 {
		t.Errorf("%d nodes printed the bootstrap banner, want exactly 1", banners)
	}
	jwks := realmPath(ca["tenant_id"], ca["realm_id"]) + "/applications/" + ca["application_id"] + "/.well-known/jwks.json"
	ka, kb := keyIDs(t, a, jwks), keyIDs(t, b, jwks)
	if len(ka) == 0 || !slices.Equal(ka, kb) {
		t.Errorf("the nodes publish different signing keys: A %v, B %v", ka, kb)
	}
	for _, from := range nodes {
		tok := from.token(t)
		for _, to := range nodes {
			if r, err := to.request(t.Context(), http.MethodGet, tenantPath(ca["tenant_id"]), tok, nil); err != nil || r.Status != http.StatusOK {
				t.Errorf("a token of %s on %s: %v %d %s", from.URL, to.URL, err, r.Status, r.Body)
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return a, b
}

// keyIDs lists the key ids of a JWKS.
func keyIDs(t *testing.T, n *node, path string) []string {
	t.Helper()
	var set struct {
		Keys []struct{ Kid string } `json:"keys"`
	}
	raw, _ := json.Marshal(n.expect(t, http.StatusOK, http.MethodGet, path, "", nil))
	json.Unmarshal(raw, &set)
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids
}

// TestConcurrentStartOnMigratedDatabase: with the schema already in place
// (`latchkey migrate`), no migration lock staggers the nodes, so they reach
// bootstrap together; still one tenant and one set of signing keys result.
func TestConcurrentStartOnMigratedDatabase(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	mustRun(t, nil, "migrate", "--data-dir", t.TempDir(), "--database", dsn)
	startCluster(t, dsn)
}

// TestTwoNodesOnePostgres: two processes share a PostgreSQL database: they
// bootstrap it once, enforce unique usernames together, and see each
// other's token revocations at once.
func TestTwoNodesOnePostgres(t *testing.T) {
	a, b := startCluster(t, testenv.PostgresDSN(t))
	nodes := []*node{a, b}
	ca := credentials(t, a.DataDir)
	tenant := ca["tenant_id"]
	tokA, tokB := a.token(t), b.token(t)
	realm := a.createRealm(t, tokA, tenant)

	t.Run("unique username across nodes", func(t *testing.T) {
		const requests = 50
		type result struct {
			resp response
			err  error
		}
		results := make([]result, requests)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range requests {
			n, tok := a, tokA
			if i%2 == 1 {
				n, tok = b, tokB
			}
			wg.Go(func() {
				<-start
				resp, err := n.request(t.Context(), http.MethodPost, identities(tenant, realm), tok, newIdentity(letterCase("alice", i)))
				results[i] = result{resp, err}
			})
		}
		close(start)
		wg.Wait()
		var created []string
		conflicts := 0
		for i, r := range results {
			switch {
			case r.err != nil:
				t.Errorf("request %d: %v", i, r.err)
			case r.resp.Status == http.StatusOK:
				created = append(created, r.resp.object(t)["id"].(string))
			case r.resp.Status == http.StatusConflict && r.resp.object(t)["code"] == "conflict":
				conflicts++
			default:
				t.Errorf("request %d (%q): status %d: %s", i, letterCase("alice", i), r.resp.Status, r.resp.Body)
			}
		}
		if len(created) != 1 || conflicts != requests-1 {
			t.Fatalf("%d created, %d conflicts; want 1 and %d", len(created), conflicts, requests-1)
		}
		for _, n := range nodes {
			total, ids := n.listIdentities(t, tokA, tenant, realm, `traits.username eq "alice"`)
			if total != 1 || !slices.Equal(ids, created) {
				t.Errorf("%s: filter lists total_size %d, ids %v; want 1, %v", n.URL, total, ids, created)
			}
		}
	})

	t.Run("revocation across nodes", func(t *testing.T) {
		victim := a.token(t)
		path := tenantPath(tenant)
		a.expect(t, http.StatusOK, http.MethodGet, path, victim, nil)
		b.expect(t, http.StatusOK, http.MethodGet, path, victim, nil)
		jti, _ := jwtPart(t, victim, 1)["jti"].(string)
		if jti == "" {
			t.Fatal("token has no jti")
		}
		b.expect(t, http.StatusOK, http.MethodDelete,
			realmPath(tenant, ca["realm_id"])+"/applications/"+ca["application_id"]+"/tokens/"+jti, tokB, nil)
		a.expect(t, http.StatusUnauthorized, http.MethodGet, path, victim, nil)
		b.expect(t, http.StatusUnauthorized, http.MethodGet, path, victim, nil)
		a.expect(t, http.StatusOK, http.MethodGet, path, tokA, nil) // other tokens live on
	})
}

// letterCase returns s with the letters whose bit is set in i upper-cased.
func letterCase(s string, i int) string {
	b := []byte(s)
	for j := range b {
		if i>>j&1 == 1 {
			b[j] = byte(strings.ToUpper(string(b[j]))[0])
		}
	}
	return string(b)
}
