package server_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestNodesAndNewerSchema: a serving node records its version and schema
// (migrate --check lists it) and removes the record when it stops. A node
// starts on a database that a newer release migrated with expand-only
// migrations, and refuses one that a newer release contracted, saying why;
// migrate --check then reports the running node too.
func TestNodesAndNewerSchema(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			n := testenv.StartNode(t, engine, func(c *server.Config) { c.Version, c.MasterKey = "v-test", secretbox.NewKey() })
			check, err := server.CheckMigration(t.Context(), n.Config)
			if err != nil {
				t.Fatal(err)
			}
			if len(check.Nodes) != 1 || check.Nodes[0].Version != "v-test" || check.Nodes[0].SchemaVersion != check.Known ||
				check.Current != check.Known || len(check.Problems) != 0 || !check.NodesRecorded {
				t.Fatalf("check with one node: %+v", check)
			}

			// A second node, closed: its record goes.
			node, err := server.Open(t.Context(), n.Config) // the same data dir: SQLite's database is there

			if err != nil {
				t.Fatal(err)
			}
			countNodes(t, n.Config, 2)
			node.Close()
			countNodes(t, n.Config, 1)

			exec := func(q string) {
				t.Helper()
				driver, dsn := "pgx", n.Config.Database
				if engine == "sqlite" {
					// The running nodes write too: wait for their locks.
					driver, dsn = "sqlite", "file:"+filepath.Join(n.Config.DataDir, server.DatabaseFile)+"?_pragma=busy_timeout(10000)"
				}
				db, err := sql.Open(driver, dsn)
				if err == nil {
					_, err = db.Exec(q)
					err = errors.Join(err, db.Close())
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99998, true)")
			testenv.StartNodeWith(t, n.Config, nil)

			exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, true)")
			exec("INSERT INTO schema_contracts (version) VALUES (99999)")
			if _, err := server.Open(t.Context(), n.Config); err == nil || !strings.Contains(err.Error(), "contracted it at version 99999") {
				t.Fatalf("start on a contracted schema: %v", err)
			}
			check, err = server.CheckMigration(t.Context(), n.Config)
			if err != nil {
				t.Fatal(err)
			}
			if check.Current != 99999 || len(check.Problems) != 3 { // this binary, and both running nodes
				t.Fatalf("check of a contracted schema: %+v", check)
			}
		})
	}
}

// countNodes checks that migrate --check sees want nodes.
func countNodes(t *testing.T, cfg server.Config, want int) {
	t.Helper()
	check, err := server.CheckMigration(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Nodes) != want {
		t.Fatalf("%d nodes recorded, want %d", len(check.Nodes), want)
	}
}
