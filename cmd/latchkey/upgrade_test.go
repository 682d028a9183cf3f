package main_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateCheck: `latchkey migrate --check` names the serving node, its
// release and schema, and says the binary is compatible; once the node has
// stopped it lists none.
func TestMigrateCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	n := serve(t, addr, dir)
	said := mustRun(t, nil, "migrate", "--check", "--data-dir", dir)
	port := addr[strings.LastIndex(addr, ":")+1:]
	if !strings.Contains(said, ":"+port+": Latchkey ") || !strings.Contains(said, "compatible: this release may migrate") {
		t.Fatalf("migrate --check with a node serving:\n%s", said)
	}
	n.stop(t)
	if said := mustRun(t, nil, "migrate", "--check", "--data-dir", dir); strings.Contains(said, "node ") {
		t.Fatalf("migrate --check after the node stopped:\n%s", said)
	}
}
