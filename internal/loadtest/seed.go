package loadtest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/directory"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
)

const (
	seedTxRows   = 50_000 // identities per transaction
	seedCallRows = 5_000  // identities per CreateIdentities call
)

// username is the username of the i-th seeded identity.
func username(i int) string { return fmt.Sprintf("user%07d", i) }

// seed creates n identities in a realm directly through the store, opened
// on the server's database from this process (SQLite's WAL mode allows a
// second process), in large transactions; on PostgreSQL it then vacuums,
// analyzes and checkpoints. It returns the identities' ids, in the order of
// their usernames, and how long that took.
func seed(ctx context.Context, engine, sqlitePath, dsn, tenantID, realmID string, n int) ([]string, time.Duration, error) {
	var st store.Store
	var err error
	if engine == "sqlite" {
		st, err = sqlite.Open(sqlitePath)
	} else {
		st, err = postgres.Open(dsn)
	}
	if err != nil {
		return nil, 0, err
	}
	defer st.Close()

	start := time.Now()
	all, err := SeedIdentities(ctx, st, tenantID, realmID, n)
	if err != nil {
		return nil, 0, err
	}
	if engine == "postgres" {
		// What autovacuum and the checkpointer would do within a minute or
		// so, done now so that every run measures the same state: the
		// visibility map and planner statistics of the new rows, and their
		// pages written out.
		if err := Settle(ctx, dsn, "identities"); err != nil {
			return nil, 0, err
		}
	}
	return all, time.Since(start), nil
}

// SeedIdentities creates n identities user0000000… in a realm directly
// through the store, in large transactions, and returns their ids in the
// order of their usernames.
func SeedIdentities(ctx context.Context, st store.Store, tenantID, realmID string, n int) ([]string, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	all := make([]string, 0, n)
	for first := 0; first < n; first += seedTxRows {
		ids := make([]directory.Identity, min(seedTxRows, n-first))
		for k := range ids {
			i := first + k
			ids[k] = directory.Identity{
				ID: latchkey.NewID(), RealmID: realmID, TenantID: tenantID,
				DisplayName: fmt.Sprintf("Load User %d", i), Status: directory.StatusActive,
				Traits: directory.Traits{Type: directory.TraitsV0, Username: username(i),
					PrimaryEmailAddress: username(i) + "@example.com", GivenName: "Load", FamilyName: fmt.Sprint(i)},
				CreateTime: now, UpdateTime: now,
			}
			if err := directory.ValidateIdentity(ids[k]); err != nil {
				return nil, err
			}
			all = append(all, ids[k].ID)
		}
		err := st.Update(ctx, func(tx store.Tx) error {
			for batch := range slices.Chunk(ids, seedCallRows) {
				if err := tx.CreateIdentities(ctx, batch); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Settle vacuums and analyzes tables of a PostgreSQL database, then
// checkpoints it.
func Settle(ctx context.Context, dsn string, tables ...string) error {
	db, err := sql.Open("pgx", dsn) // registered by internal/store/postgres
	if err != nil {
		return err
	}
	defer db.Close()
	var stmts []string
	for _, t := range tables {
		stmts = append(stmts, "VACUUM ANALYZE "+t)
	}
	for _, stmt := range append(stmts, "CHECKPOINT") {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}
