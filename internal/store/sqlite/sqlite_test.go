package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

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
