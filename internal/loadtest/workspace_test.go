package loadtest

import (
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/postgres"
)

// adminDSN returns the PostgreSQL server that the tests make databases on.
func adminDSN(t *testing.T) string {
	dsn := os.Getenv("LATCHKEY_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("LATCHKEY_TEST_POSTGRES is not set; set it to a PostgreSQL DSN to run this test")
	}
	return dsn
}

func databaseExists(t *testing.T, admin, name string) bool {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestKeep: a kept workspace is reused once seeded, started afresh (its
// database dropped) when seeding did not finish, and refused for another
// number of identities or a directory the tool did not make.
func TestKeep(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			cfg := Config{Keep: t.TempDir(), Identities: 2, Log: io.Discard}
			if engine == "postgres" {
				cfg.PostgresDSN = adminDSN(t)
			}
			open := func() *workspace {
				t.Helper()
				w, err := openWorkspace(cfg, engine)
				if err != nil {
					t.Fatal(err)
				}
				w.remove()
				return w
			}
			unfinished := open()
			if unfinished.kept != nil {
				t.Fatalf("a new workspace was reused: %+v", unfinished.kept)
			}
			if err := os.MkdirAll(unfinished.dataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			w := open() // seeding of the first never finished
			if w.kept == nil || w.kept.Realm != "" {
				t.Fatalf("the unfinished workspace: %+v", w.kept)
			}
			if _, err := os.Stat(w.dataDir); !os.IsNotExist(err) {
				t.Errorf("the unfinished run's data directory is still there: %v", err)
			}
			if engine == "postgres" {
				t.Cleanup(func() { postgres.DropDatabase(cfg.PostgresDSN, w.db) })
				if databaseExists(t, cfg.PostgresDSN, unfinished.db) || !databaseExists(t, cfg.PostgresDSN, w.db) {
					t.Errorf("database %s (unfinished) should be gone, %s there", unfinished.db, w.db)
				}
			}
			ids := []string{"id0", "id1"}
			if err := w.seeded(cfg, "realm", ids, time.Second); err != nil {
				t.Fatal(err)
			}

			again := open()
			if again.kept == nil || again.kept.Realm != "realm" || again.kept.SeedTime != time.Second || again.dsn != w.dsn || again.db != w.db {
				t.Fatalf("reused workspace %+v (dsn %q), want realm of %q (dsn %q)", again.kept, again.dsn, w.db, w.dsn)
			}
			if got, err := again.keptIDs(); err != nil || !slices.Equal(got, ids) {
				t.Errorf("kept ids %q, %v; want %q", got, err, ids)
			}

			cfg.Identities = 3
			if _, err := openWorkspace(cfg, engine); err == nil || !strings.Contains(err.Error(), "-identities 2") {
				t.Errorf("3 identities on a workspace of 2: %v", err)
			}
		})
	}
	t.Run("foreign directory", func(t *testing.T) {
		cfg := Config{Keep: t.TempDir(), Identities: 2}
		if err := os.MkdirAll(filepath.Join(cfg.Keep, "sqlite", "mine"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := openWorkspace(cfg, "sqlite"); err == nil {
			t.Error("a directory without kept.json was taken")
		}
	})
}

// TestBackendsCPU: the backends of one database are found, and their CPU
// counted, without the tool's own connection to the server.
func TestBackendsCPU(t *testing.T) {
	admin := adminDSN(t)
	name := "latchkey_test_load_backends"
	postgres.DropDatabase(admin, name)
	dsn, err := postgres.CreateDatabase(admin, name, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { postgres.DropDatabase(admin, name) })
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	pg, err := openBackends(admin, name)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.close()

	before, err := readCPU(t.Context(), os.Getpid(), pg)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.backends) != 1 {
		t.Fatalf("backends %v, want the one connection", before.backends)
	}
	if _, err := db.Exec(`SELECT count(*) FROM generate_series(1, 20000000)`); err != nil {
		t.Fatal(err)
	}
	after, err := readCPU(t.Context(), os.Getpid(), pg)
	if err != nil {
		t.Fatal(err)
	}
	used := postgresDelta(before.postgres, after.postgres, func(pid string) bool { return slices.Contains(after.backends, pid) })
	if used < 100*time.Millisecond {
		t.Errorf("the backend counted %s for counting to 20 million", used)
	}
}

// TestPhases: -phases names phases by key, in the suite's order.
func TestPhases(t *testing.T) {
	cfg := Config{Suite: "api", Phases: []string{"skip", "lookup"}}
	if err := CheckPhases(cfg); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range selected(cfg, suite(cfg, "sqlite", nil, "", "", nil, "")) {
		got = append(got, p.key)
	}
	if !slices.Equal(got, []string{"lookup", "skip"}) {
		t.Errorf("selected %q", got)
	}
	cfg.Phases = []string{"filter"}
	if err := CheckPhases(cfg); err == nil || !strings.Contains(err.Error(), "create,lookup,walk,skip") {
		t.Errorf("the api suite's filter phase: %v", err)
	}
	cfg.Suite = "scim"
	if err := CheckPhases(cfg); err != nil {
		t.Error(err)
	}
}
