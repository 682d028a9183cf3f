package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestRevokedLinkIsGone: a revoked job's link answers 410 with why, on the
// hosted page as on the API.
func TestRevokedLinkIsGone(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		_, _, b := adaBinding(t, c, "Revoked", hostedConfig)
		info := b.call(t, c, "getInfo", b.token, nil).JSON(t)
		c.post(t, b.jobPath()+":revoke", map[string]any{})
		const why = "this binding link was revoked; ask for a new one"

		page := send(t, "GET", b.link, http.Header{"Accept": {"text/html"}}, nil)
		if page.Status != http.StatusGone || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(page.Body), why) {
			t.Errorf("hosted page of a revoked link: %d %s %s", page.Status, page.Header.Get("Content-Type"), page.Body)
		}
		assertError(t, send(t, "GET", b.link, http.Header{"Accept": {"application/json"}}, nil), http.StatusGone, "gone", why)
		assertError(t, b.call(t, c, "getInfo", b.token, nil), http.StatusGone, "gone", why)
		assertError(t, b.call(t, c, "bind", b.token, webauthnProof(t, info, e.node.URL)), http.StatusGone, "gone", why)
		if s := b.state(t, c); s != "REVOKED" {
			t.Errorf("state %s, want REVOKED", s)
		}
	})
}

// withClientData returns a WebAuthn proof whose client data edit changed.
func withClientData(t *testing.T, proof map[string]any, edit func(map[string]any)) map[string]any {
	t.Helper()
	var att map[string]string
	json.Unmarshal([]byte(proof["raw"].(string)), &att)
	b, _ := base64.StdEncoding.DecodeString(att["client_data_json_base64"])
	var clientData map[string]any
	if err := json.Unmarshal(b, &clientData); err != nil {
		t.Fatal(err)
	}
	edit(clientData)
	b, _ = json.Marshal(clientData)
	att["client_data_json_base64"] = base64.StdEncoding.EncodeToString(b)
	raw, _ := json.Marshal(att)
	return map[string]any{"type": "WEBAUTHN", "raw": string(raw)}
}

// TestMalformedWebAuthnAttestation: a WebAuthn proof that is not what the
// job asked for is a field violation on raw, and the job stays open.
func TestMalformedWebAuthnAttestation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Malformed")
		ada := str(t, newIdentity(t, c, realm, "ada"), "id")
		config := hostedConfig(t, c, realm)
		b := newBinding(t, c, realm, ada, config)
		info := b.call(t, c, "getInfo", b.token, nil).JSON(t)
		other := newBinding(t, c, realm, ada, config)
		otherInfo := other.call(t, c, "getInfo", other.token, nil).JSON(t)
		valid := webauthnProof(t, info, e.node.URL)
		garbage, _ := json.Marshal(map[string]string{"client_data_json_base64": "%%not base64%%", "attestation_object": "!!"})

		refused := []struct {
			name, description string
			proof             map[string]any
		}{
			{"raw not JSON", "not a JSON object with client_data_json_base64 and attestation_object",
				map[string]any{"type": "WEBAUTHN", "raw": "{"}},
			{"garbage base64", "client_data_json_base64 and attestation_object must be base64",
				map[string]any{"type": "WEBAUTHN", "raw": string(garbage)}},
			{"a WebAuthn proof sent as JWT", "not a compact ES256 JWS", map[string]any{"type": "JWT", "raw": valid["raw"]}},
			{"an assertion instead of a registration", "the attestation does not verify: …",
				withClientData(t, valid, func(cd map[string]any) { cd["type"] = "webauthn.get" })},
			{"the challenge of another job", "the proof is for another binding link", webauthnProof(t, otherInfo, e.node.URL)},
			{"a challenge that is not base64url", "the challenge is not base64url",
				withClientData(t, valid, func(cd map[string]any) { cd["challenge"] = "*" })},
		}
		for _, r := range refused {
			t.Run(r.name, func(t *testing.T) {
				assertInvalid(t, b.call(t, c, "bind", b.token, r.proof), "raw", r.description)
			})
		}
		if s := b.state(t, c); s != "REQUEST_DELIVERED" {
			t.Errorf("state after refused proofs %s, want REQUEST_DELIVERED", s)
		}
		if bound := b.call(t, c, "bind", b.token, valid); bound.Status != http.StatusOK {
			t.Errorf("bind after refused proofs: %d %s", bound.Status, bound.Body)
		}
	})
}

// TestTokenOfAnotherJob: a link's token opens only its own job; used on
// another it is refused and neither job moves.
func TestTokenOfAnotherJob(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Tokens")
		config := hostedConfig(t, c, realm)
		ada := newBinding(t, c, realm, str(t, newIdentity(t, c, realm, "ada"), "id"), config)
		bob := newBinding(t, c, realm, str(t, newIdentity(t, c, realm, "bob"), "id"), config)
		const why = "the binding link's token is not valid"

		wrongLink := strings.Replace(bob.link, bob.token, ada.token, 1)
		assertError(t, send(t, "GET", wrongLink, http.Header{"Accept": {"application/json"}}, nil), http.StatusUnauthorized, "unauthorized", why)
		assertError(t, bob.call(t, c, "getInfo", ada.token, nil), http.StatusUnauthorized, "unauthorized", why)
		proof, _ := softwareProof(t, bob.subject(c), ada.token)
		assertError(t, bob.call(t, c, "bind", ada.token, proof), http.StatusUnauthorized, "unauthorized", why)

		for _, b := range []binding{ada, bob} {
			if s := b.state(t, c); s != "LINK_SENT" {
				t.Errorf("job %s is %s after the wrong token, want LINK_SENT", b.job, s)
			}
			if creds := c.list(t, "/realms/"+realm+"/identities/"+b.identity+"/credentials"); num(t, creds, "total_size") != 0 {
				t.Errorf("identity %s has credentials after the wrong token: %v", b.identity, creds)
			}
		}
	})
}

// TestLinkThroughAnyIdentity: the wildcard identity "-", which lists the
// jobs of every identity, names no job of a binding link: with the right
// token, :invokeAuthenticator, :getInfo and :bind through it answer 404, no
// CORS is granted, and the job does not move.
func TestLinkThroughAnyIdentity(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Wildcard")
		app := "https://app.example.com"
		b := newBinding(t, c, realm, str(t, newIdentity(t, c, realm, "ada"), "id"), embeddedConfig(t, c, realm, app))
		b.call(t, c, "getInfo", b.token, nil)
		wild := b
		wild.identity = "-"
		const why = "credential binding job not found"

		wildLink := strings.Replace(b.link, "/identities/"+b.identity+"/", "/identities/-/", 1)
		assertNotFound(t, send(t, "GET", wildLink, http.Header{"Accept": {"application/json"}}, nil), "CredentialBindingJob", b.job, why)
		assertNotFound(t, wild.call(t, c, "getInfo", b.token, nil), "CredentialBindingJob", b.job, why)
		proof, _ := softwareProof(t, b.subject(c), b.token)
		assertNotFound(t, wild.call(t, c, "bind", b.token, proof), "CredentialBindingJob", b.job, why)
		preflight := send(t, "OPTIONS", c.url(wild.jobPath()+":bind"), http.Header{"Origin": {app},
			"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"}}, nil)
		if h := preflight.Header.Get("Access-Control-Allow-Origin"); h != "" {
			t.Errorf("CORS granted through the wildcard: %s", h)
		}
		if s := b.state(t, c); s != "REQUEST_DELIVERED" {
			t.Errorf("job %s after calls through the wildcard, want REQUEST_DELIVERED", s)
		}
	})
}
