package main_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestoreCommands: `latchkey backup` of a serving node, with its
// master key under a passphrase; `latchkey restore` refuses the running
// node's data dir and a wrong passphrase, and restores into another one,
// where a node serves the same tenant with the same credentials. Both
// refuse PostgreSQL, for pg_dump.
func TestBackupRestoreCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	n := serve(t, freeAddr(t), dir)
	token := n.token(t)
	creds := credentials(t, dir)
	realm := n.createRealm(t, token, creds["tenant_id"])
	pass := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pass, []byte("a long passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("another\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "latchkey.backup")
	_, stderr, err := run(t, nil, "backup", "--data-dir", dir, "--out", filepath.Join(t.TempDir(), "nokey"))
	if err != nil || !strings.Contains(stderr, "the master key is NOT in the backup") {
		t.Fatalf("backup without the key: %v: %s", err, stderr)
	}
	mustRun(t, nil, "backup", "--data-dir", dir, "--out", out, "--include-master-key", "--passphrase-file", pass)
	if stderr := mustFail(t, nil, "restore", "--data-dir", dir, "--passphrase-file", pass, out); !strings.Contains(stderr, "a node is running on") {
		t.Fatalf("restore over the running node: %s", stderr)
	}
	target := filepath.Join(t.TempDir(), "restored")
	if stderr := mustFail(t, nil, "restore", "--data-dir", target, "--passphrase-file", wrong, out); !strings.Contains(stderr, "passphrase does not open") {
		t.Fatalf("restore with a wrong passphrase: %s", stderr)
	}
	if said := mustRun(t, nil, "restore", "--data-dir", target, "--passphrase-file", pass, out); !strings.Contains(said, "master key is in master.key") {
		t.Fatalf("restore said %q", said)
	}
	n2 := serve(t, freeAddr(t), target)
	n2.expect(t, http.StatusOK, http.MethodGet, realmPath(creds["tenant_id"], realm), n2.token(t), nil)
	if credentials(t, target)["client_secret"] != creds["client_secret"] {
		t.Fatal("the restored node has other management credentials")
	}
	for _, args := range [][]string{{"backup", "--out", out}, {"restore", out}} {
		args = append(args, "--database", "postgres://127.0.0.1:1/none", "--data-dir", t.TempDir())
		if stderr := mustFail(t, nil, args...); !strings.Contains(stderr, "pg_dump") {
			t.Errorf("%s on PostgreSQL: %s", args[0], stderr)
		}
	}
}
