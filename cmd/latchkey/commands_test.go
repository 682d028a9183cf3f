package main_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestKeysRotate: `latchkey keys rotate` makes a new signing key of each
// algorithm in the database each time.
func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	mustRun(t, nil, "migrate", "--data-dir", dir)
	said := regexp.MustCompile(`^new RS256 signing key (\S+)\nnew ES256 signing key (\S+)\n`)
	first := said.FindStringSubmatch(mustRun(t, nil, "keys", "rotate", "--data-dir", dir))
	second := said.FindStringSubmatch(mustRun(t, nil, "keys", "rotate", "--data-dir", dir))
	if first == nil || second == nil || first[1] == second[1] || first[2] == second[2] {
		t.Errorf("keys rotate said %q, then %q", first, second)
	}
}

// TestAdminEnroll: the first start names the first administrator and
// prints the console and a one-time binding link; `latchkey admin enroll`
// prints a fresh one, and refuses an unknown username.
func TestAdminEnroll(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	n := serve(t, addr, dir, "--admin-username", "boss", "--admin-email", "boss@example.com")
	linkRE := regexp.MustCompile(`https?://\S+:invokeAuthenticator\?token=\S+`)
	first := linkRE.FindString(n.stdout.String())
	if !strings.Contains(n.stdout.String(), "The admin console is at "+n.URL+"/console/") || first == "" {
		t.Fatalf("first start printed no console link:\n%s", n.stdout.String())
	}
	page := func(link string) int {
		resp, err := n.client.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := page(first); status != http.StatusOK {
		t.Fatalf("the printed link answers %d", status)
	}
	again := strings.TrimSpace(mustRun(t, nil, "admin", "enroll", "--data-dir", dir))
	if !linkRE.MatchString(again) || again == first || page(again) != http.StatusOK {
		t.Fatalf("admin enroll printed %q (first %q)", again, first)
	}
	if stderr := mustFail(t, nil, "admin", "enroll", "--data-dir", dir, "--username", "nobody"); !strings.Contains(stderr, `"nobody"`) {
		t.Fatalf("unknown username: %s", stderr)
	}
	if stderr := mustFail(t, nil, "admin", "enroll", "--data-dir", t.TempDir()); !strings.Contains(stderr, "start latchkey serve once") {
		t.Fatalf("a database without console: %s", stderr)
	}
	n.stop(t)
	n = serve(t, addr, dir)
	if strings.Contains(n.stdout.String(), "invokeAuthenticator") {
		t.Errorf("a restart printed a binding link again:\n%s", n.stdout.String())
	}
}

// TestCredentials: `latchkey credentials` prints the management
// application's credentials, which the API never answers; --regenerate
// gives it a new secret, the only way to, and the old one stops working.
func TestCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	n := serve(t, freeAddr(t), dir)
	old := credentials(t, dir)
	var printed map[string]string
	if err := json.Unmarshal([]byte(mustRun(t, nil, "credentials", "--data-dir", dir)), &printed); err != nil || printed["client_secret"] != old["client_secret"] {
		t.Fatalf("credentials printed %v (%v)", printed, err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "credentials", "--regenerate", "--data-dir", dir)), &printed); err != nil ||
		printed["client_secret"] == old["client_secret"] || printed["client_id"] != old["client_id"] {
		t.Fatalf("credentials --regenerate printed %v (%v)", printed, err)
	}
	if c := credentials(t, dir); c["client_secret"] != printed["client_secret"] {
		t.Error("bootstrap.json does not hold the new secret")
	}
	n.token(t) // with the new secret, from bootstrap.json
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, old["token_endpoint"], strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(old["client_id"], old["client_secret"])
	resp, err := n.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old secret answers %d", resp.StatusCode)
	}
	if stderr := mustFail(t, nil, "credentials", "--data-dir", t.TempDir()); !strings.Contains(stderr, "start latchkey serve once") {
		t.Errorf("a database never bootstrapped: %s", stderr)
	}
}

// TestKeysRotateSAML: `latchkey keys rotate-saml` makes a new SAML signing
// certificate of a realm that signs after --overlap, each time a new one;
// an unknown realm is refused.
func TestKeysRotateSAML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	n := serve(t, freeAddr(t), dir)
	creds := credentials(t, dir)
	realm := n.createRealm(t, n.token(t), creds["tenant_id"])
	said := regexp.MustCompile(`^new SAML signing certificate (\S+), in the metadata now, signing from (\S+)\n`)
	args := []string{"keys", "rotate-saml", "--data-dir", dir, "--tenant", creds["tenant_id"], "--realm", realm}
	first := said.FindStringSubmatch(mustRun(t, nil, append(args, "--overlap", "1h")...))
	second := said.FindStringSubmatch(mustRun(t, nil, args...))
	if first == nil || second == nil || first[1] == second[1] || first[2] == second[2] {
		t.Errorf("keys rotate-saml said %q, then %q", first, second)
	}
	if stderr := mustFail(t, nil, "keys", "rotate-saml", "--data-dir", dir, "--tenant", creds["tenant_id"], "--realm", "nope"); !strings.Contains(stderr, "realm not found") {
		t.Errorf("an unknown realm: %s", stderr)
	}
}
