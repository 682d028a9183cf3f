// Package testenv gives tests the real services they need: a fresh
// PostgreSQL database per test (from LATCHKEY_TEST_POSTGRES) and a SQLite
// file, and the rule that a missing service skips the test, or fails it
// when LATCHKEY_TEST_REQUIRE_ALL=1 (as in CI).
//
// Only tests import it.
package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// Unavailable skips the test because a service it needs is missing, or
// fails it when every service is required.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("LATCHKEY_TEST_REQUIRE_ALL") == "1" {
		t.Fatalf("%s (LATCHKEY_TEST_REQUIRE_ALL=1 makes this a failure)", why)
	}
	t.Skip(why)
}

// PostgresDSN returns the DSN of a new, empty database that is dropped when
// the test ends.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("LATCHKEY_TEST_POSTGRES")
	if admin == "" {
		Unavailable(t, "LATCHKEY_TEST_POSTGRES is not set; set it to a PostgreSQL DSN to run this test")
	}
	return newDatabase(t, admin, "")
}

// Engine opens a fresh, migrated store of one engine.
type Engine struct {
	Name string
	Open func(t testing.TB) *sqlstore.Store
}

// Engines returns both engines. The PostgreSQL one skips (or fails) its
// test when no server is configured.
func Engines() []Engine {
	return []Engine{{"sqlite", OpenSQLite}, {"postgres", OpenPostgres}}
}

// OpenSQLite returns a migrated store on a new SQLite file.
func OpenSQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "latchkey.db"))
	return migrated(t, s, err)
}

// OpenPostgres returns a migrated store on a new PostgreSQL database.
func OpenPostgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := postgres.Open(MigratedPostgresDSN(t))
	return migrated(t, s, err)
}

func migrated(t testing.TB, s *sqlstore.Store, err error) *sqlstore.Store {
	t.Helper()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(fmt.Errorf("migrate: %w", err))
	}
	return s
}
