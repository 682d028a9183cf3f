package main_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

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
	app := newSDKApp(t, oldNode, creds["tenant_id"], realm)

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
			key := app.bind(t, writer, id)
			code := app.signIn(t, reader, writer, id, key)
			idToken := app.redeem(t, writer, code)
			claims := verifiedClaims(t, reader, app.path+"/.well-known/jwks.json", idToken)
			if aud, _ := claims["aud"].([]any); claims["sub"] != fmt.Sprintf("%s%d", round, i) || claims["iss"] != app.issuer ||
				len(aud) != 1 || aud[0] != app.clientID {
				t.Errorf("%s: an ID token of %s for a passkey bound at %s: %v", round, writer.URL, reader.URL, claims)
			}
		}
	}
	crossed("mixed")
	oldNode.stop(t)
	oldNode = launchBinary(t, old, oldNode.Addr, oldNode.DataDir, args...)
	crossed("restarted")
}

// sdkApp is an OIDC client whose sign-ins the embedded SDK makes with a
// software passkey, through the protocol of the SDK that both releases
// serve.
type sdkApp struct {
	tenant, realm, config string
	path, issuer          string // the issuer's path on any node, and its URL
	clientID, secret      string
}

const (
	sdkOrigin   = "https://app.example.com"
	sdkVerifier = "upgrade-test-pkce-verifier-of-more-than-43-characters"
)

// newSDKApp registers, at n, an embedded authenticator config and a
// confidential client that signs in with it, and lets every identity of
// the realm use it.
func newSDKApp(t *testing.T, n *node, tenant, realm string) sdkApp {
	t.Helper()
	token := n.token(t)
	a := sdkApp{tenant: tenant, realm: realm}
	a.config = n.expect(t, http.StatusOK, http.MethodPost, realmPath(tenant, realm)+"/authenticator-configs", token,
		map[string]any{"authenticator_config": map[string]any{"display_name": "App",
			"config": map[string]any{"type": "embedded", "invoke_url": sdkOrigin, "trusted_origins": []string{sdkOrigin}}}})["id"].(string)
	app := n.expect(t, http.StatusOK, http.MethodPost, realmPath(tenant, realm)+"/applications", token, map[string]any{"application": map[string]any{
		"display_name": "Pet App", "authenticator_config_id": a.config, "protocol_config": map[string]any{
			"type": "oidc", "grant_type": []string{"authorization_code"}, "redirect_uris": []string{sdkOrigin + "/callback"},
			"pkce": "s256", "token_configuration": map[string]any{"expires_after": 3600, "subject_field": "username"}}}})
	pc := app["protocol_config"].(map[string]any)
	a.clientID, a.secret = pc["client_id"].(string), pc["client_secret"].(string)
	a.path = realmPath(tenant, realm) + "/applications/" + app["id"].(string)
	a.issuer = credentials(t, n.DataDir)["api_base_url"] + a.path
	n.expect(t, http.StatusOK, http.MethodPut, realmPath(tenant, realm)+"/policy", token, map[string]any{"default_effect": "allow"})
	return a
}

// subject is how the SDK names the identity in its proofs.
func (a sdkApp) subject(identity string) string {
	return "CN=" + identity + ", OU=" + a.realm + ", O=" + a.tenant
}

// bind creates a credential binding job (RETURN) for the identity at n
// and binds a software passkey to it there, as the SDK does with the
// job's link; it returns the passkey's key.
func (a sdkApp) bind(t *testing.T, n *node, identity string) *ecdsa.PrivateKey {
	t.Helper()
	jobs := identities(a.tenant, a.realm) + "/" + identity + "/credential-binding-jobs"
	out := n.expect(t, http.StatusOK, http.MethodPost, jobs, n.token(t),
		map[string]any{"job": map[string]any{"delivery_method": "RETURN", "authenticator_config_id": a.config}})
	link, err := url.Parse(out["credential_binding_link"].(string))
	if err != nil {
		t.Fatal(err)
	}
	linkToken := link.Query().Get("token")
	proof, key := testenv.SoftwareProof(t, a.subject(identity), linkToken)
	job := out["credential_binding_job"].(map[string]any)["id"].(string)
	n.expect(t, http.StatusOK, http.MethodPost, jobs+"/"+job+":bind", linkToken, proof)
	return key
}

// signIn signs the identity in at n with its software passkey, as the
// SDK does: /authorize hands the sign-in to the app with a request JWT,
// which the SDK verifies with the keys of keys (another node), and the
// passkey's proof of it at bi-authenticate answers a code, returned.
func (a sdkApp) signIn(t *testing.T, n, keys *node, identity string, key *ecdsa.PrivateKey) string {
	t.Helper()
	challenge := sha256.Sum256([]byte(sdkVerifier))
	q := url.Values{"client_id": {a.clientID}, "redirect_uri": {sdkOrigin + "/callback"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"}}
	noRedirects := *n.client
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Get(n.URL + a.path + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(to.String(), sdkOrigin+"/bi-authenticate?") {
		t.Fatalf("authorize at %s: %s to %q", n.URL, resp.Status, resp.Header.Get("Location"))
	}
	req := verifiedClaims(t, keys, a.path+"/.well-known/jwks.json", to.Query().Get("request"))
	prove, _ := req["authn"].(map[string]any)["action"].(map[string]any)["prove"].(map[string]any)
	now := time.Now().Unix()
	claims := testenv.SoftwareClaims(t, key, testenv.Thumbprint(t, &key.PublicKey), map[string]any{
		"sub": a.subject(identity), "aud": []string{a.issuer + "/bi-authenticate"}, "exp": now + 300, "iat": now,
		"jti": rand.Text(), "bi_tid": req["transaction_id"], "bi_non": prove["nonce"]})
	answer := a.post(t, n, "/bi-authenticate", url.Values{"claims": {claims}})
	if answer["type"] != "allow" || answer["code"] == "" {
		t.Fatalf("bi-authenticate at %s: %v", n.URL, answer)
	}
	return answer["code"].(string)
}

// redeem redeems a code at n and returns the ID token.
func (a sdkApp) redeem(t *testing.T, n *node, code string) string {
	t.Helper()
	tokens := a.post(t, n, "/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {sdkOrigin + "/callback"}, "code_verifier": {sdkVerifier}})
	idToken, _ := tokens["id_token"].(string)
	if idToken == "" {
		t.Fatalf("token at %s: %v", n.URL, tokens)
	}
	return idToken
}

// post posts a form to the application's endpoint at n, with its client
// credentials, and requires 200 and a JSON object.
func (a sdkApp) post(t *testing.T, n *node, endpoint string, form url.Values) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, n.URL+a.path+endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.clientID, a.secret)
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Body: body}
	if r.Status != http.StatusOK {
		t.Fatalf("POST %s at %s: %d %s", endpoint, n.URL, r.Status, body)
	}
	return r.object(t)
}

// verifiedClaims verifies a JWT (ES256 or RS256) with the JWKS that n
// serves at path and returns its claims.
func verifiedClaims(t *testing.T, n *node, path, raw string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("not a JWT: %v", err)
	}
	var set jose.JSONWebKeySet
	b, _ := json.Marshal(n.expect(t, http.StatusOK, http.MethodGet, path, "", nil))
	json.Unmarshal(b, &set)
	keys := set.Key(tok.Headers[0].KeyID)
	var claims map[string]any
	if len(keys) != 1 || tok.Claims(keys[0].Key, &claims) != nil {
		t.Fatalf("a JWT of key %q that the JWKS of %s does not verify", tok.Headers[0].KeyID, n.URL)
	}
	return claims
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
