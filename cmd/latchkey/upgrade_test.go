package main_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/testenv"
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

// TestRollingUpgrade: a node of the release before the newest migration
// (built from git) and a node of this one share one PostgreSQL behind one
// public URL, as behind a load balancer: the new node migrates the schema
// while the old one serves; migrate --check calls them compatible; and
// across the two, both ways, each sees what the other wrote, takes the
// other's tokens, and signs in with a passkey the other bound. The old
// node then starts again on the new schema and does the same.
func TestRollingUpgrade(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	old := previousRelease(t)
	oldAddr := freeAddr(t)
	args := []string{"--database", dsn, "--master-key", newMasterKey(), "--public-url", "http://" + oldAddr}
	oldNode := launchBinary(t, old, oldAddr, filepath.Join(t.TempDir(), "old"), args...)
	creds := credentials(t, oldNode.DataDir)
	realm := oldNode.createRealm(t, oldNode.token(t), creds["tenant_id"])
	app := testenv.NewSDKApp(t, oldNode.URL, oldNode.token(t), "http://"+oldAddr, creds["tenant_id"], realm)

	newNode := serve(t, freeAddr(t), filepath.Join(t.TempDir(), "new"), args...)
	said := mustRun(t, nil, "migrate", "--check", "--database", dsn, "--data-dir", t.TempDir())
	if !strings.Contains(said, "compatible: this release may migrate") || !strings.Contains(said, newNode.Addr[strings.LastIndex(newNode.Addr, ":"):]) {
		t.Fatalf("migrate --check beside both nodes:\n%s", said)
	}
	crossed := func(round string) {
		for i, writer := range []*node{oldNode, newNode} {
			reader := []*node{newNode, oldNode}[i]
			id := writer.expect(t, http.StatusOK, http.MethodPost, identities(creds["tenant_id"], realm), writer.token(t),
				newIdentity(fmt.Sprintf("%s%d", round, i)))["id"].(string)
			reader.expect(t, http.StatusOK, http.MethodGet, identities(creds["tenant_id"], realm)+"/"+id, reader.token(t), nil)
			// A token one node issued, the other takes.
			reader.expect(t, http.StatusOK, http.MethodGet, realmPath(creds["tenant_id"], realm), writer.token(t), nil)
			// A passkey the writer bound signs in at the reader, whose
			// code the writer redeems; the reader's keys verify the ID token.
			key := app.Bind(t, writer.URL, writer.token(t), id)
			code, _ := app.SignIn(t, reader.URL, writer.URL, id, key)
			claims := testenv.VerifiedClaims(t, reader.URL+app.Path+"/.well-known/jwks.json", app.Redeem(t, writer.URL, code))
			if aud, _ := claims["aud"].([]any); claims["sub"] != fmt.Sprintf("%s%d", round, i) || claims["iss"] != app.Issuer ||
				len(aud) != 1 || aud[0] != app.ClientID {
				t.Errorf("%s: an ID token of %s for a passkey bound at %s: %v", round, writer.URL, reader.URL, claims)
			}
		}
	}
	crossed("mixed")
	oldNode.stop(t)
	oldNode = launchBinary(t, old, oldNode.Addr, oldNode.DataDir, args...)
	crossed("restarted")
}

// previousRelease builds the binary of the commit before the one that
// added the newest migration to this line of history (HEAD, if that
// migration is not committed yet), and returns its path.
func previousRelease(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testenv.Unavailable(t, "git is not installed")
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, "internal/store/sqlstore/migrations/*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	newest := files[len(files)-1] // named by zero-padded version
	// Along first parents, a migration merged from a branch is added by the
	// merge, whose first parent is the release before it (the branch's own
	// parent may lack migrations that the mainline had).
	out, err := exec.Command("git", "-C", repoRoot, "log", "--first-parent", "-n1", "--diff-filter=A", "--format=%H", "--", strings.TrimPrefix(newest, repoRoot+"/")).Output()
	if err != nil {
		testenv.Unavailable(t, "no git history here: "+err.Error())
	}
	rev := "HEAD"
	if added := strings.TrimSpace(string(out)); added != "" {
		rev = added + "^"
	}
	src := t.TempDir()
	archive := exec.Command("git", "-C", repoRoot, "archive", "--format=tar", rev)
	unpack := exec.Command("tar", "-x", "-C", src)
	unpack.Stdin, _ = archive.StdoutPipe()
	if err := unpack.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v", rev, err)
	}
	if err := unpack.Wait(); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "latchkey-previous")
	build := exec.Command("go", "build", "-o", bin, "./cmd/latchkey")
	build.Dir, build.Env = src, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", rev, err, out)
	}
	return bin
}

// launchBinary serves with another latchkey binary and waits until it is ready.
func launchBinary(t *testing.T, bin, addr, dataDir string, args ...string) *node {
	t.Helper()
	saved := binary
	binary = bin
	defer func() { binary = saved }()
	return serve(t, addr, dataDir, args...)
}
