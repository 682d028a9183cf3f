package testenv

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/store/postgres"
)

// MigratedPostgresDSN returns the DSN of a new database with every
// migration applied, dropped when the test ends. It is a copy of a
// template database (CREATE DATABASE … TEMPLATE): migrating a database
// costs about half a second, copying one a fraction of that, and a test
// run makes hundreds. The template is made once for each set of
// migrations, by the first test process that needs it, and shared by the
// others (its name carries a digest of the migrations).
func MigratedPostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("LATCHKEY_TEST_POSTGRES")
	if admin == "" {
		Unavailable(t, "LATCHKEY_TEST_POSTGRES is not set; set it to a PostgreSQL DSN to run this test")
	}
	template, err := migratedTemplate(t.Context(), admin)
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	return newDatabase(t, admin, template)
}

// newDatabase makes a database (a copy of template, or empty when template
// is "") that is dropped when the test ends, and returns its DSN.
func newDatabase(t testing.TB, admin, template string) string {
	t.Helper()
	name := "latchkey_test_" + strings.ToLower(latchkey.RandomString(12))
	dsn, err := postgres.CreateDatabase(admin, name, template)
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if err := postgres.DropDatabase(admin, name); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	return dsn
}

// migratedTemplate returns the name of the template database of this
// source tree's migrations, making it if no process has: under an advisory
// lock, migrated under a temporary name and then renamed, so that no
// process copies a template half made.
func migratedTemplate(ctx context.Context, admin string) (string, error) {
	digest, err := migrationsDigest()
	if err != nil {
		return "", err
	}
	name := "latchkey_template_" + digest
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('latchkey_template'))`); err != nil {
		return "", err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('latchkey_template'))`)
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		return name, err
	}
	making := name + "_making"
	if err := postgres.DropDatabase(admin, making); err != nil {
		return "", err
	}
	dsn, err := postgres.CreateDatabase(admin, making, "")
	if err != nil {
		return "", err
	}
	s, err := postgres.Open(dsn)
	if err != nil {
		return "", err
	}
	err = s.Migrate(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("migrate: %w", err)
	}
	_, err = conn.ExecContext(ctx, `ALTER DATABASE "`+making+`" RENAME TO "`+name+`"`)
	return name, err
}

// migrationsDigest is a digest of what decides the PostgreSQL schema: the
// migrations and the engine's own Go migrations, read from this source tree.
func migrationsDigest() (string, error) {
	_, self, _, _ := runtime.Caller(0)
	store := filepath.Join(filepath.Dir(self), "..", "store")
	files, err := filepath.Glob(filepath.Join(store, "sqlstore", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no migrations in %s: %v", store, err)
	}
	files = append(files, filepath.Join(store, "postgres", "postgres.go"))
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
