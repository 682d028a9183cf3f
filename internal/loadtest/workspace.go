package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/store/postgres"
)

// workspace is where one engine's run keeps the server's data: its data
// directory, log and (PostgreSQL) database. Without Config.Keep they are
// scratch, removed after the run; with it they outlive the run, and the
// seeded realm is reused by the next one, which saves the minutes that
// seeding a million identities costs.
type workspace struct {
	root    string // the server's log, and with Keep, kept.json and the ids
	dataDir string
	db, dsn string // PostgreSQL: the database's name and DSN
	kept    *kept  // the seeded realm of an earlier run, or nil
	remove  func() // removes what is scratch
}

// kept is what kept.json remembers of a kept workspace. Realm is empty
// until seeding has finished: such a workspace is started afresh.
type kept struct {
	Database   string        `json:"database,omitempty"` // PostgreSQL's scratch database
	DSN        string        `json:"dsn,omitempty"`
	Realm      string        `json:"realm,omitempty"` // the seeded realm
	Identities int           `json:"identities,omitempty"`
	SeedTime   time.Duration `json:"seed_time,omitempty"`
}

const (
	keptFile = "kept.json"
	idsFile  = "ids" // the seeded identities' ids, one a line, in the order of their usernames
)

// openWorkspace returns engine's workspace: a scratch one, or with keep,
// keep/engine, reused if it holds a realm seeded with identities, else made
// afresh.
func openWorkspace(cfg Config, engine string) (*workspace, error) {
	if engine != "sqlite" && engine != "postgres" {
		return nil, fmt.Errorf("unknown engine %q", engine)
	}
	w := &workspace{remove: func() {}}
	var err error
	if cfg.Keep == "" {
		if w.root, err = os.MkdirTemp("", "latchkey-load-"); err != nil {
			return nil, err
		}
		w.remove = func() { os.RemoveAll(w.root) }
	} else {
		w.root = filepath.Join(cfg.Keep, engine)
		if w.kept, err = readKept(w.root); err != nil {
			return nil, err
		}
	}
	w.dataDir = filepath.Join(w.root, "data")
	if w.kept != nil && w.kept.Realm != "" {
		if w.kept.Identities != cfg.Identities {
			return nil, fmt.Errorf("%s holds %d seeded identities, not %d: pass -identities %d, or choose another -keep",
				w.root, w.kept.Identities, cfg.Identities, w.kept.Identities)
		}
		w.db, w.dsn = w.kept.Database, w.kept.DSN
		return w, nil
	}
	if w.kept != nil { // seeding did not finish: start afresh
		if w.kept.Database != "" {
			if err := postgres.DropDatabase(cfg.PostgresDSN, w.kept.Database); err != nil {
				return nil, fmt.Errorf("drop the unfinished run's database: %w", err)
			}
		}
		if err := os.RemoveAll(w.dataDir); err != nil {
			return nil, err
		}
	}
	state := kept{}
	if engine == "postgres" {
		state.Database = "latchkey_load_" + strings.ToLower(latchkey.RandomString(10))
		if w.dsn, err = postgres.CreateDatabase(cfg.PostgresDSN, state.Database, ""); err != nil {
			return nil, fmt.Errorf("create database: %w", err)
		}
		state.DSN, w.db = w.dsn, state.Database
		if cfg.Keep == "" {
			rmDir := w.remove
			w.remove = func() {
				if err := postgres.DropDatabase(cfg.PostgresDSN, state.Database); err != nil {
					fmt.Fprintf(cfg.Log, "drop database %s: %v\n", state.Database, err)
				}
				rmDir()
			}
		}
	}
	if cfg.Keep != "" {
		// Written before seeding, so that a run that stops meanwhile leaves
		// the name of its database for the next to drop.
		if err := os.MkdirAll(w.root, 0o700); err != nil {
			return nil, err
		}
		if err := writeKept(w.root, state); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// readKept reads dir/kept.json; nil if dir does not exist or is empty.
func readKept(dir string) (*kept, error) {
	b, err := os.ReadFile(filepath.Join(dir, keptFile))
	if errors.Is(err, os.ErrNotExist) {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s is not a workspace of latchkey-load (no %s): choose another -keep", dir, keptFile)
	}
	if err != nil {
		return nil, err
	}
	var k kept
	if err := json.Unmarshal(b, &k); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, keptFile), err)
	}
	return &k, nil
}

func writeKept(dir string, k kept) error {
	b, _ := json.MarshalIndent(k, "", "  ")
	return os.WriteFile(filepath.Join(dir, keptFile), append(b, '\n'), 0o600)
}

// seeded records a finished seeding of a kept workspace: the realm, its
// identities' ids and how long it took.
func (w *workspace) seeded(cfg Config, realm string, ids []string, took time.Duration) error {
	if cfg.Keep == "" {
		return nil
	}
	if err := os.WriteFile(filepath.Join(w.root, idsFile), []byte(strings.Join(ids, "\n")), 0o600); err != nil {
		return err
	}
	k, err := readKept(w.root)
	if err != nil {
		return err
	}
	k.Realm, k.Identities, k.SeedTime = realm, len(ids), took
	return writeKept(w.root, *k)
}

// keptIDs returns the ids of a kept workspace's seeded identities.
func (w *workspace) keptIDs() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(w.root, idsFile))
	if err != nil {
		return nil, err
	}
	return strings.Split(string(b), "\n"), nil
}
