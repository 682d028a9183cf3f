package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/latchkey/latchkey/internal/backup"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
)

// DatabaseFile is the embedded SQLite database in the data dir; LockFile
// is the lock that nodes share and a restore takes alone.
const (
	DatabaseFile = "latchkey.db"
	LockFile     = "latchkey.lock"
)

// errLocked means another process holds the data dir's lock.
var errLocked = errors.New("data dir locked")

// errPostgres answers backup and restore on PostgreSQL.
var errPostgres = errors.New("backup and restore are for the embedded SQLite database; back PostgreSQL up with pg_dump and restore with pg_restore (README: Back up and restore)")

// BackupOptions are what `latchkey backup` asks for.
type BackupOptions struct {
	// Passphrase, when set, seals the master key into the backup.
	Passphrase []byte
	// Version is the binary's, recorded in the header.
	Version string
}

// Backup writes a consistent backup of the embedded SQLite database to out
// while nodes may be serving from it: a snapshot in one read transaction,
// checked for damage, in backup's file format. The master key goes in only
// with a passphrase, sealed by it. out is replaced only once it is whole.
func Backup(ctx context.Context, cfg Config, out string, o BackupOptions) (backup.Header, error) {
	var h backup.Header
	if cfg.Database != "" {
		return h, errPostgres
	}
	var key string
	if o.Passphrase != nil {
		if cfg.PreviousMasterKey != "" {
			return h, errors.New("a master key rotation is under way (--previous-master-key): finish it with latchkey keys rotate-master first, or back up without the key and keep both keys")
		}
		var err error
		if key, err = masterKey(cfg); err != nil {
			return h, err
		}
	}
	db := filepath.Join(cfg.DataDir, DatabaseFile)
	if _, err := os.Stat(db); err != nil {
		return h, fmt.Errorf("no database to back up: %w", err)
	}
	h.CreateTime = cfg.Clock.Now() // the snapshot's moment, as near as can be
	tmp, err := os.MkdirTemp(filepath.Dir(out), ".latchkey-backup-")
	if err != nil {
		return h, err
	}
	defer os.RemoveAll(tmp)
	snap := filepath.Join(tmp, DatabaseFile)
	if err := sqlite.Snapshot(ctx, db, snap); err != nil {
		return h, fmt.Errorf("snapshot: %w", err)
	}
	if err := sqlite.Check(ctx, snap); err != nil {
		return h, err
	}
	if err := withSnapshot(snap, func(st *sqlstore.Store) error {
		var err error
		if h.SchemaVersion, _, err = st.SchemaVersion(ctx); err != nil || key == "" {
			return err
		}
		// A backup must not carry a key that cannot open it.
		_, err = checkedBox(ctx, st, key)
		return err
	}); err != nil {
		return h, err
	}
	if key != "" {
		if h.MasterKey, err = backup.SealKey(key, o.Passphrase); err != nil {
			return h, err
		}
	}
	f, err := os.Open(snap)
	if err != nil {
		return h, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return h, err
	}
	h.LatchkeyVersion, h.DatabaseSize = o.Version, info.Size()
	part := filepath.Join(tmp, "backup")
	w, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return h, err
	}
	err = backup.Write(w, h, f)
	if err == nil {
		err = w.Sync()
	}
	if err = errors.Join(err, w.Close()); err != nil {
		return h, err
	}
	return h, os.Rename(part, out)
}

// masterKey is the configured master key, or the data dir's key file,
// which it does not create.
func masterKey(cfg Config) (string, error) {
	if cfg.MasterKey != "" {
		return cfg.MasterKey, nil
	}
	key, err := secretbox.Load(cfg.DataDir)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no master key: give --master-key, or keep %s in the data dir", secretbox.KeyFile)
	}
	return key, err
}

// RestoreResult says what a restore did.
type RestoreResult struct {
	Header backup.Header
	// Previous is where the database it replaced was moved ("" if none).
	Previous string
	// KeyWritten says whether the backup's master key was written to the
	// data dir.
	KeyWritten bool
}

// Restore replaces the data dir's SQLite database with the backup in, once
// it has proved the backup whole and undamaged, of a schema this binary
// knows, and opened by the master key: the configured one, the data dir's,
// or, with a passphrase, the backup's own (then written to the data dir,
// unless --master-key is set). No node may be running on the data dir. On
// any failure nothing in the data dir is changed; the database replaced is
// kept beside it.
func Restore(ctx context.Context, cfg Config, in string, passphrase []byte) (RestoreResult, error) {
	var r RestoreResult
	if cfg.Database != "" {
		return r, errPostgres
	}
	src, err := os.Open(in)
	if err != nil {
		return r, err
	}
	defer src.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return r, err
	}
	unlock, err := lockDataDir(cfg.DataDir, true)
	if errors.Is(err, errLocked) {
		return r, fmt.Errorf("a node is running on %s: stop it first (restore replaces its database)", cfg.DataDir)
	}
	if err != nil {
		return r, err
	}
	defer unlock()
	tmp, err := os.MkdirTemp(cfg.DataDir, ".restore-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	db := filepath.Join(tmp, DatabaseFile)
	if r.Header, err = readBackup(src, db); err != nil {
		return r, err
	}
	if err := sqlite.Check(ctx, db); err != nil {
		return r, err
	}
	var key string
	var fromBackup bool
	if err := withSnapshot(db, func(st *sqlstore.Store) error {
		current, known, err := st.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		if current > known {
			return fmt.Errorf("the backup's schema (version %d) is newer than this binary knows (%d): restore it with the Latchkey that made it (%s) or a newer one",
				current, known, r.Header.LatchkeyVersion)
		}
		if key, fromBackup, err = restoreKey(cfg, r.Header, passphrase); err != nil {
			return err
		}
		if _, err := checkedBox(ctx, st, key, cfg.PreviousMasterKey); err != nil {
			return fmt.Errorf("nothing was restored: %w", err)
		}
		return nil
	}); err != nil {
		return r, err
	}
	return r, r.swap(cfg, db, key, fromBackup)
}

// withSnapshot runs fn on the SQLite database at path, which no node uses.
func withSnapshot(path string, fn func(*sqlstore.Store) error) error {
	st, err := sqlite.Open(path)
	if err != nil {
		return err
	}
	return errors.Join(fn(st), st.Close())
}

// readBackup copies the backup's database out of src into db.
func readBackup(src io.Reader, db string) (backup.Header, error) {
	f, err := os.OpenFile(db, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return backup.Header{}, err
	}
	h, err := backup.Read(src, f)
	if err == nil {
		err = f.Sync()
	}
	return h, errors.Join(err, f.Close())
}

// restoreKey returns the master key that must open the backup, and whether
// it came out of the backup.
func restoreKey(cfg Config, h backup.Header, passphrase []byte) (string, bool, error) {
	if passphrase == nil || cfg.MasterKey != "" {
		key, err := masterKey(cfg)
		if err != nil {
			return "", false, fmt.Errorf("%w, or restore a backup made with --include-master-key with --passphrase-file", err)
		}
		return key, false, nil
	}
	if h.MasterKey == nil {
		return "", false, errors.New("this backup holds no master key: give the one it was made with (--master-key, or master.key in the data dir)")
	}
	key, err := h.MasterKey.Open(passphrase)
	return key, err == nil, err
}

// swap moves the restored database db into the data dir, the one there
// (and its WAL, which belongs to it) aside, and writes the backup's master
// key when it came from there and none is configured.
func (r *RestoreResult) swap(cfg Config, db, key string, fromBackup bool) error {
	stamp := cfg.Clock.Now().Format("20060102T150405Z")
	live := filepath.Join(cfg.DataDir, DatabaseFile)
	if _, err := os.Stat(live); err == nil {
		r.Previous = live + ".before-restore-" + stamp
		if err := os.Rename(live, r.Previous); err != nil {
			return err
		}
		if err := os.Rename(live+"-wal", r.Previous+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Remove(live + "-shm"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(db, live); err != nil {
		return err
	}
	if !fromBackup || cfg.MasterKey != "" {
		return nil
	}
	keyFile := filepath.Join(cfg.DataDir, secretbox.KeyFile)
	if old, err := secretbox.Load(cfg.DataDir); err == nil && old != key {
		if err := os.Rename(keyFile, keyFile+".before-restore-"+stamp); err != nil {
			return err
		}
	}
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		return err
	}
	r.KeyWritten = true
	return nil
}
