package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, testenv.OpenSQLite)
}

// TestIndexedLookups: after the migrations, memberships live in their
// primary key's B-tree (version 30), and both ways of reading them, like
// the lookups of identities by username, e-mail address and external id,
// use an index.
func TestIndexedLookups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var schema string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'memberships'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(schema, "WITHOUT ROWID") {
		t.Errorf("memberships: %s", schema)
	}
	for query, index := range map[string]string{
		`SELECT identity_id FROM memberships WHERE group_id = 'g' AND identity_id > 'a'`: "PRIMARY KEY",
		`SELECT group_id FROM memberships WHERE identity_id = 'i'`:                       "memberships_identity",
		`SELECT id FROM identities WHERE realm_id = 'r' AND username_key = 'u'`:          "identities_username",
		`SELECT id FROM identities WHERE realm_id = 'r' AND email_key = 'e'`:             "identities_email",
		`SELECT id FROM identities WHERE realm_id = 'r' AND external_id = 'x'`:           "identities_external_id",
	} {
		var id, parent, unused int
		var plan string
		if err := db.QueryRow(`EXPLAIN QUERY PLAN `+query).Scan(&id, &parent, &unused, &plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, index) {
			t.Errorf("%s: plan %q, want %s", query, plan, index)
		}
	}
}

// TestBackgroundCheckpoint: pages committed to the WAL reach the database
// file while the store is open, without a checkpoint of the connection
// that wrote them (its own are off here, as the store's writer leaves its
// own to a WAL of 64 MiB), and no longer once the store is closed.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE filler (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	// fill commits 4 MiB of pages that only the WAL holds until a checkpoint.
	fill := func() {
		t.Helper()
		if _, err := db.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1024) INSERT INTO filler SELECT randomblob(4000) FROM n`); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	fill()
	for deadline := time.Now().Add(5 * time.Second); size() < before+4<<20; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes 5 s after a commit of 4 MiB to a file of %d: no checkpoint", size(), before)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed := size()
	fill()
	time.Sleep(300 * time.Millisecond) // three checkpoint periods
	if size() != closed {
		t.Errorf("the database file grew from %d to %d bytes after the store closed", closed, size())
	}
}
