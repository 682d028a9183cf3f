package main_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRotateMasterKeyKilled: `latchkey keys rotate-master`, killed with
// SIGKILL after its first batch, leaves every client secret usable on a
// node given both keys, and the database refusing a node with the new key
// alone; run again it finishes, and then nodes start with the new key
// alone (every secret works) and no longer with the old one.
func TestRotateMasterKeyKilled(t *testing.T) {
	oldKey, newKey := newMasterKey(), newMasterKey()
	dir := filepath.Join(t.TempDir(), "data")
	n := serve(t, freeAddr(t), dir, "--master-key", oldKey)
	apps := createClients(t, n, 40)
	n.stop(t)
	n = serve(t, freeAddr(t), dir, "--master-key", newKey, "--previous-master-key", oldKey)

	rotate := exec.Command(binary, "keys", "rotate-master", "--data-dir", dir, "--master-key", oldKey, "--new-key", newKey, "--batch-size", "1")
	rotate.Env = environ()
	out, err := rotate.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rotate.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(out).ReadString('\n')
	rotate.Process.Kill()
	rotate.Wait()
	if err != nil || first != "applications: 1 re-encrypted\n" {
		t.Fatalf("the rotation's first batch: %q, %v", first, err)
	}
	if stderr := mustFail(t, nil, "serve", "--data-dir", dir, "--listen", freeAddr(t), "--master-key", newKey); !strings.Contains(stderr, "master key does not match") {
		t.Fatalf("the new key alone, mid-rotation: %s", stderr)
	}
	useAll(t, n, apps)

	if said := mustRun(t, nil, "keys", "rotate-master", "--data-dir", dir, "--master-key", oldKey, "--new-key", newKey); !strings.Contains(said, "every secret is sealed with the new key") {
		t.Fatalf("the resumed rotation said %q", said)
	}
	useAll(t, n, apps) // the node with both keys serves on
	n.stop(t)
	n = serve(t, freeAddr(t), dir, "--master-key", newKey)
	useAll(t, n, apps)
	n.token(t)
	if stderr := mustFail(t, nil, "serve", "--data-dir", dir, "--listen", freeAddr(t), "--master-key", oldKey); !strings.Contains(stderr, "master key does not match") {
		t.Fatalf("the old key after the rotation: %s", stderr)
	}
}

// createClients creates count confidential client-credentials applications
// and returns their credentials and token endpoints' paths.
func createClients(t *testing.T, n *node, count int) []map[string]string {
	t.Helper()
	token, creds := n.token(t), credentials(t, n.DataDir)
	realm := n.createRealm(t, token, creds["tenant_id"])
	base := realmPath(creds["tenant_id"], realm)
	rs := n.expect(t, http.StatusOK, http.MethodPost, base+"/resource-servers", token, map[string]any{"resource_server": map[string]any{
		"display_name": "API", "identifier": "https://api.example.com", "scopes": []string{"things:read"}}})["id"].(string)
	apps := make([]map[string]string, count)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < count; i += 8 {
				resp, err := n.request(t.Context(), http.MethodPost, base+"/applications", token, map[string]any{"application": map[string]any{
					"display_name": fmt.Sprintf("Client %d", i), "resource_server_id": rs, "protocol_config": map[string]any{
						"type": "oauth2", "confidentiality": "confidential", "grant_type": []string{"client_credentials"},
						"allowed_scopes": []string{"things:read"}, "token_configuration": map[string]any{"expires_after": 3600}}}})
				if err != nil || resp.Status != http.StatusOK {
					t.Errorf("create application: %v %d %s", err, resp.Status, resp.Body)
					continue
				}
				a := resp.object(t)
				pc := a["protocol_config"].(map[string]any)
				apps[i] = map[string]string{"client_id": pc["client_id"].(string), "client_secret": pc["client_secret"].(string),
					"token_path": base + "/applications/" + a["id"].(string) + "/token"}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return apps
}

// useAll gets a token with each application's secret.
func useAll(t *testing.T, n *node, apps []map[string]string) {
	t.Helper()
	for _, a := range apps {
		n.tokenWith(t, map[string]string{"client_id": a["client_id"], "client_secret": a["client_secret"], "token_endpoint": n.URL + a["token_path"]})
	}
}
