package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/backup"
	"github.com/latchkey/latchkey/internal/secretbox"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

// TestBackupDuringWrites: a backup taken while clients create identities
// restores, into another data dir and with the master key it carries
// under a passphrase, every identity acknowledged before the backup began,
// and a realm whose count agrees with its rows; the node kept serving.
func TestBackupDuringWrites(t *testing.T) {
	n := testenv.StartNode(t, "sqlite", nil)
	tok := n.Token(t, "")
	c := n.Creds()
	realm := testenv.Do(t, http.MethodPost, n.URL+"/v1/tenants/"+c.TenantID+"/realms", tok,
		map[string]any{"realm": map[string]any{"display_name": "Backup", "classification": "SECURE_CUSTOMER"}}).JSON(t)["id"].(string)
	url := n.URL + "/v1/tenants/" + c.TenantID + "/realms/" + realm + "/identities"

	var started atomic.Bool // set just before the backup begins
	var mu sync.Mutex
	var before []string // acknowledged before the backup began
	var after atomic.Int64
	acked := make(chan struct{}, 1) // a write was acknowledged
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				id, err := createIdentity(ctx, url, tok, fmt.Sprintf("w%d-%d", w, i))
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if started.Load() {
					after.Add(1)
				} else {
					mu.Lock()
					before = append(before, id)
					mu.Unlock()
				}
				select {
				case acked <- struct{}{}:
				default:
				}
			}
		})
	}
	waitUntil := func(done func() bool) {
		for !done() {
			select {
			case <-acked:
			case err := <-errs:
				t.Fatal(err)
			}
		}
	}
	waitUntil(func() bool { mu.Lock(); defer mu.Unlock(); return len(before) >= 100 })
	out := filepath.Join(t.TempDir(), "latchkey.backup")
	started.Store(true)
	h, err := server.Backup(t.Context(), n.Config, out, server.BackupOptions{Passphrase: []byte("correct horse"), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(func() bool { return after.Load() >= 20 }) // the node serves on
	stop()
	wg.Wait()
	if after.Load() == 0 || h.MasterKey == nil || h.SchemaVersion == 0 {
		t.Fatalf("acknowledged after the backup began: %d; header %+v", after.Load(), h)
	}

	dir := t.TempDir()
	r, err := server.Restore(t.Context(), server.Config{DataDir: dir}, out, []byte("correct horse"))
	if err != nil || !r.KeyWritten || r.Previous != "" {
		t.Fatalf("restore: %+v, %v", r, err)
	}
	if a, b := readFile(t, n.Config.DataDir, secretbox.KeyFile), readFile(t, dir, secretbox.KeyFile); !bytes.Equal(a, b) {
		t.Fatal("the restored master key is not the node's")
	}
	n2 := testenv.StartNodeWith(t, server.Config{DataDir: dir}, nil)
	got, total, err := n2.Directory.ListIdentities(t.Context(), c.TenantID, realm, latchkey.ListOptions{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, i := range got {
		have[i.ID] = true
	}
	for _, id := range before {
		if !have[id] {
			t.Errorf("identity %s, acknowledged before the backup, is not in it", id)
		}
	}
	if total != len(got) || len(got) < len(before) {
		t.Errorf("the restored realm counts %d identities and lists %d (%d acknowledged before the backup)", total, len(got), len(before))
	}
	n2.Token(t, "") // the restored secrets open with the restored key
}

func createIdentity(ctx context.Context, url, token, username string) (string, error) {
	body, _ := json.Marshal(map[string]any{"identity": map[string]any{"display_name": username,
		"traits": map[string]any{"type": "traits_v0", "username": username}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var created struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("create identity: %s (%v)", resp.Status, err)
	}
	return created.ID, nil
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fingerprint is the hash of every file in dir, to show that nothing changed.
func fingerprint(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, e := range entries {
		if e.Name() == server.LockFile {
			continue
		}
		fmt.Fprintf(h, "%s\n", e.Name())
		if !e.IsDir() {
			h.Write(readFile(t, dir, e.Name()))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestRestoreRefuses: a restore over a running node, with a wrong master
// key or passphrase, from a torn or altered file, or of a schema newer than
// the binary's fails with the reason and changes nothing in the data dir.
func TestRestoreRefuses(t *testing.T) {
	n := testenv.StartNode(t, "sqlite", nil)
	out := filepath.Join(t.TempDir(), "latchkey.backup")
	if _, err := server.Backup(t.Context(), n.Config, out, server.BackupOptions{Passphrase: []byte("pass")}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "variant")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	other := testenv.StartNode(t, "sqlite", nil) // a data dir with its own database and key
	otherCfg := other.Config
	other.Close()
	newer := newerSchema(t, n.Config)

	for _, c := range []struct {
		name       string
		cfg        server.Config
		file       string
		passphrase string
		want       string
	}{
		{"over a running node", n.Config, out, "", "a node is running on"},
		{"with another master key", otherCfg, out, "", "master key does not match"},
		{"with a wrong given key", server.Config{DataDir: otherCfg.DataDir, MasterKey: secretbox.NewKey()}, out, "", "master key does not match"},
		{"with a wrong passphrase", otherCfg, out, "wrong", backup.ErrWrongPassphrase.Error()},
		{"cut short", otherCfg, variant(good[:len(good)-40]), "pass", "torn or corrupt"},
		{"without its checksum", otherCfg, variant(good[:len(good)-32]), "pass", "torn or corrupt"},
		{"with a byte changed", otherCfg, variant(flipped), "pass", "torn or corrupt"},
		{"with more after it", otherCfg, variant(append(bytes.Clone(good), 0)), "pass", "torn or corrupt"},
		{"not a backup", otherCfg, variant([]byte("SQLite format 3\x00")), "pass", "not a Latchkey backup"},
		{"of a newer schema", otherCfg, newer, "pass", "newer than this binary knows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			was := fingerprint(t, c.cfg.DataDir)
			var pass []byte
			if c.passphrase != "" {
				pass = []byte(c.passphrase)
			}
			_, err := server.Restore(t.Context(), c.cfg, c.file, pass)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("restore: %v, want %q", err, c.want)
			}
			if fingerprint(t, c.cfg.DataDir) != was {
				t.Fatal("a refused restore changed the data dir")
			}
		})
	}
	// The same backup, with its key, restores over the other database,
	// which is kept beside it.
	r, err := server.Restore(t.Context(), server.Config{DataDir: otherCfg.DataDir}, out, []byte("pass"))
	if err != nil || r.Previous == "" || !r.KeyWritten {
		t.Fatalf("restore: %+v, %v", r, err)
	}
	if _, err := os.Stat(r.Previous); err != nil {
		t.Fatal(err)
	}
	restored := testenv.StartNodeWith(t, server.Config{DataDir: otherCfg.DataDir}, nil)
	if restored.Creds().ClientSecret != n.Creds().ClientSecret {
		t.Fatal("the restored node has not the backup's management credentials")
	}
}

// newerSchema returns a backup of a copy of cfg's database on which a
// migration this binary does not know has run.
func newerSchema(t *testing.T, cfg server.Config) string {
	t.Helper()
	dir := t.TempDir()
	first := filepath.Join(t.TempDir(), "b")
	if _, err := server.Backup(t.Context(), cfg, first, server.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Restore(t.Context(), server.Config{DataDir: dir, MasterKey: string(readFile(t, cfg.DataDir, secretbox.KeyFile))}, first, nil); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, server.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec("INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)")
	if err = errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "newer")
	if _, err := server.Backup(t.Context(), server.Config{DataDir: dir}, out, server.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackupOfDamagedDatabase: a database with a torn page is not backed
// up; the backup says it is damaged and writes no file.
func TestBackupOfDamagedDatabase(t *testing.T) {
	cfg := server.Config{DataDir: t.TempDir()}
	n, err := server.Open(t.Context(), cfg) // closed, it leaves no WAL behind
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	path := filepath.Join(cfg.DataDir, server.DatabaseFile)
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the closed database has a WAL: %v", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	// Pages torn by a crash the storage did not survive: the second half of
	// every page but the first (the schema's root) is garbage.
	for off := int64(4096); off < info.Size(); off += 4096 {
		if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, 2048), off+2048); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	out := filepath.Join(t.TempDir(), "backup")
	_, err = server.Backup(t.Context(), cfg, out, server.BackupOptions{})
	if err == nil || !strings.Contains(err.Error(), "malformed") && !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("backup of a damaged database: %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed backup left %s (%v)", out, err)
	}
}

// TestPostgresRestoreFromPgDump: the README's procedure for PostgreSQL,
// pg_dump -Fc then pg_restore into an empty database, gives a node (with
// the same master key) the directory and the secrets of the first.
func TestPostgresRestoreFromPgDump(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, tool+" is not installed")
		}
	}
	key := secretbox.NewKey()
	n := testenv.StartNode(t, "postgres", func(c *server.Config) { c.MasterKey = key })
	c := n.Creds()
	realm := testenv.Do(t, http.MethodPost, n.URL+"/v1/tenants/"+c.TenantID+"/realms", n.Token(t, ""),
		map[string]any{"realm": map[string]any{"display_name": "Dumped", "classification": "SECURE_CUSTOMER"}}).JSON(t)["id"].(string)
	dump := filepath.Join(t.TempDir(), "latchkey.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file", dump, "--dbname", n.Config.Database).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	target := testenv.PostgresDSN(t)
	if out, err := exec.Command("pg_restore", "--no-owner", "--exit-on-error", "--dbname", target, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	n2 := testenv.StartNode(t, "postgres", func(cfg *server.Config) { cfg.Database, cfg.MasterKey = target, key })
	if _, err := n2.Directory.GetRealm(t.Context(), c.TenantID, realm); err != nil {
		t.Fatalf("the realm made before the dump: %v", err)
	}
	if n2.Creds().ClientSecret != c.ClientSecret {
		t.Fatal("the restored database has other management credentials")
	}
	n2.Token(t, "") // signing keys and client secrets open with the key
}
