package main_test

import (
	"database/sql"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv" // also registers the "pgx" and "sqlite" SQL drivers
)

// TestFirstStartAndRestart: an empty SQLite data dir is bootstrapped once,
// with a 0600 bootstrap.json that `latchkey token` uses; a restart keeps the
// tenant and the credentials.
func TestFirstStartAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // does not exist yet
	addr := freeAddr(t)
	n := serve(t, addr, dir)

	c := credentials(t, dir)
	if !strings.Contains(n.stdout.String(), banner+": tenant "+c["tenant_id"]) ||
		!strings.Contains(n.stdout.String(), "latchkey token --data-dir "+dir) {
		t.Errorf("first start: stdout lacks the banner for tenant %s:\n%s", c["tenant_id"], n.stdout.String())
	}
	info, err := os.Stat(filepath.Join(dir, "bootstrap.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("bootstrap.json mode %v, want 0600", info.Mode().Perm())
	}
	keys := slices.Sorted(maps.Keys(c))
	want := []string{"api_base_url", "application_id", "client_id", "client_secret", "realm_id", "tenant_id", "token_endpoint"}
	if !slices.Equal(keys, want) {
		t.Errorf("bootstrap.json keys %v, want exactly %v", keys, want)
	}
	for k, v := range c {
		if v == "" {
			t.Errorf("bootstrap.json: %s is empty", k)
		}
	}
	if c["api_base_url"] != n.URL || !strings.HasPrefix(c["token_endpoint"], n.URL+"/v1/tenants/"+c["tenant_id"]+"/") {
		t.Errorf("api_base_url %q, token_endpoint %q; want them on %s", c["api_base_url"], c["token_endpoint"], n.URL)
	}

	out := mustRun(t, nil, "token", "--data-dir", dir)
	tok := strings.TrimSuffix(out, "\n")
	if strings.ContainsAny(tok, " \n") || jwtPart(t, tok, 0)["alg"] != "RS256" {
		t.Fatalf("latchkey token printed %q, want one RS256 JWT", out)
	}
	tenant := n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)
	if tenant["id"] != c["tenant_id"] {
		t.Errorf("GET tenant answered %v", tenant)
	}
	n.expect(t, http.StatusUnauthorized, http.MethodGet, tenantPath(c["tenant_id"]), tok+"x", nil)

	// A long-lived SCIM token, as Okta or Entra ID is given.
	scimTok := strings.TrimSpace(mustRun(t, nil, "token", "--data-dir", dir, "--scope", "scim:all", "--lifetime", "8760h"))
	if claims := jwtPart(t, scimTok, 1); claims["exp"].(float64)-claims["iat"].(float64) != 8760*3600 || claims["scope"] != "scim:all" {
		t.Errorf("SCIM token claims %v, want scope scim:all and a lifetime of 8760h", claims)
	}
	n.expect(t, http.StatusOK, http.MethodGet, realmPath(c["tenant_id"], c["realm_id"])+"/scim/v2/Users?count=0", scimTok, nil)
	n.expect(t, http.StatusForbidden, http.MethodGet, tenantPath(c["tenant_id"]), scimTok, nil)

	n.stop(t)
	n = serve(t, addr, dir)
	if strings.Contains(n.stdout.String(), banner) {
		t.Errorf("restart printed the banner again:\n%s", n.stdout.String())
	}
	if again := credentials(t, dir); !maps.Equal(again, c) {
		t.Errorf("restart changed bootstrap.json:\n%v\nbefore:\n%v", again, c)
	}
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil) // the old token
	n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), n.tokenWith(t, c), nil)
}

// TestConfiguration: LATCHKEY_* variables stand in for absent flags and
// flags beat them; version and migrate work.
func TestConfiguration(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		env := []string{"LATCHKEY_LISTEN=" + addr, "LATCHKEY_DATA_DIR=" + dir}
		n := launch(t, addr, dir, env, "serve")
		n.waitReady(t)
		c := credentials(t, dir)
		if c["api_base_url"] != "http://"+addr {
			t.Errorf("api_base_url %q, want http://%s", c["api_base_url"], addr)
		}
		tok := strings.TrimSpace(mustRun(t, env, "token"))
		n.expect(t, http.StatusOK, http.MethodGet, tenantPath(c["tenant_id"]), tok, nil)
	})

	t.Run("flags win", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		envDir := filepath.Join(t.TempDir(), "from-env")
		// Were the variables used, the node could not listen, and would
		// write to envDir.
		env := []string{"LATCHKEY_LISTEN=256.0.0.1:1", "LATCHKEY_DATA_DIR=" + envDir}
		n := launch(t, addr, dir, env, "serve", "--listen", addr, "--data-dir", dir)
		n.waitReady(t)
		if c := credentials(t, dir); c["api_base_url"] != "http://"+addr {
			t.Errorf("api_base_url %q, want http://%s", c["api_base_url"], addr)
		}
		if _, err := os.Stat(envDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("LATCHKEY_DATA_DIR was used despite --data-dir: %v", err)
		}
	})

	t.Run("aaguid names", func(t *testing.T) {
		dir := t.TempDir()
		empty := filepath.Join(dir, "empty.json")
		os.WriteFile(empty, []byte("{}"), 0o600)
		// The community list is emptied when it is retired: a node does not start on it.
		if _, stderr, err := run(t, nil, "serve", "--listen", freeAddr(t), "--data-dir", dir, "--aaguid-names", empty); err == nil ||
			!strings.Contains(stderr, "--aaguid-names") {
			t.Fatalf("serve with an empty AAGUID list: %v\n%s", err, tail(stderr))
		}
		names := filepath.Join(dir, "aaguids.json")
		os.WriteFile(names, []byte(`{"cb69481e-8ff7-4039-93ec-0a2729a154a8":{"name":"YubiKey 5 Series"}}`), 0o600)
		addr := freeAddr(t)
		n := launch(t, addr, dir, nil, "serve", "--listen", addr, "--data-dir", dir, "--aaguid-names", names)
		n.waitReady(t)
		if !strings.Contains(n.stderr.String(), "authenticators=1") {
			t.Errorf("the node did not say it loaded the list:\n%s", tail(n.stderr.String()))
		}
	})

	t.Run("version", func(t *testing.T) {
		out := mustRun(t, nil, "version")
		if !strings.HasPrefix(out, "latchkey") || strings.Count(out, "\n") != 1 {
			t.Errorf("latchkey version printed %q", out)
		}
	})

	t.Run("migrate sqlite", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		if out := mustRun(t, nil, "migrate", "--data-dir", dir); !strings.Contains(out, "database is up to date") {
			t.Errorf("migrate printed %q", out)
		}
		checkMigrated(t, "sqlite", "file:"+filepath.Join(dir, "latchkey.db")+"?mode=ro")
		if out := mustRun(t, nil, "migrate", "--data-dir", dir); !strings.Contains(out, "database is up to date") {
			t.Errorf("second migrate printed %q", out)
		}
	})

	t.Run("migrate postgres", func(t *testing.T) {
		dsn := testenv.PostgresDSN(t)
		out := mustRun(t, nil, "migrate", "--data-dir", t.TempDir(), "--database", dsn)
		if !strings.Contains(out, "database is up to date") {
			t.Errorf("migrate printed %q", out)
		}
		checkMigrated(t, "pgx", dsn)
	})
}

// checkMigrated requires the database to have the schema but no data: the
// migrate command does not bootstrap.
func checkMigrated(t *testing.T, driver, dsn string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"tenants", "identities", "tokens", "signing_keys"} {
		var k int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&k); err != nil {
			t.Errorf("after migrate: table %s: %v", table, err)
		} else if k != 0 {
			t.Errorf("after migrate: table %s has %d rows, want 0", table, k)
		}
	}
}

// TestMasterKey: a database refuses a master key other than its own, given
// by flag or by LATCHKEY_MASTER_KEY.
func TestMasterKey(t *testing.T) {
	t.Run("generated key", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		serve(t, addr, dir).stop(t) // creates the database with a generated key
		stderr := mustFail(t, nil, "serve", "--listen", addr, "--data-dir", dir, "--master-key", newMasterKey())
		if !strings.Contains(stderr, "master key does not match") || !strings.Contains(stderr, "--master-key") {
			t.Errorf("stderr does not explain the master key mismatch:\n%s", tail(stderr))
		}
	})

	t.Run("LATCHKEY_MASTER_KEY", func(t *testing.T) {
		addr, dir := freeAddr(t), t.TempDir()
		key := newMasterKey()
		n := launch(t, addr, dir, []string{"LATCHKEY_MASTER_KEY=" + key}, "serve", "--listen", addr, "--data-dir", dir)
		n.waitReady(t)
		n.stop(t)
		if _, err := os.Stat(filepath.Join(dir, "master.key")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a master.key file was generated although LATCHKEY_MASTER_KEY was set: %v", err)
		}
		// The same key as a flag opens the database.
		n = serve(t, addr, dir, "--master-key", key)
		tok := n.token(t)
		n.stop(t)
		// Another key in the variable does not, nor the generated default.
		stderr := mustFail(t, []string{"LATCHKEY_MASTER_KEY=" + newMasterKey()}, "serve", "--listen", addr, "--data-dir", dir)
		if !strings.Contains(stderr, "--master-key") {
			t.Errorf("stderr does not name --master-key:\n%s", tail(stderr))
		}
		mustFail(t, nil, "serve", "--listen", addr, "--data-dir", dir)
		// The flag beats a wrong variable.
		n = launch(t, addr, dir, []string{"LATCHKEY_MASTER_KEY=" + newMasterKey()},
			"serve", "--listen", addr, "--data-dir", dir, "--master-key", key)
		n.waitReady(t)
		n.expect(t, http.StatusOK, http.MethodGet, tenantPath(credentials(t, dir)["tenant_id"]), tok, nil)
	})
}
