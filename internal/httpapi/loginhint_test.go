package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"testing"
)

// nonces are the per-answer random parts of the hosted sign-in page.
var nonces = regexp.MustCompile(`nonce="[^"]*"|nonce-[^']*'`)

// TestLoginHintTellsNothing: a stranger's /authorize answers the same for
// the login hint of a username with a passkey, of an unknown one, and for
// none: the same status and page, options that list no credential, and
// the sign-in differs only in its id and challenge. The passkey still
// signs in with the hint.
func TestLoginHintTellsNothing(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		f := newSignInFixture(t, e, "Hints")
		page := func(hint string) (status int, body []byte, req map[string]any) {
			t.Helper()
			q := signInQuery(f.clientID, f.callback)
			if hint != "" {
				q.Set("login_hint", hint)
			}
			resp := sendWith(t, noRedirects, "GET", f.issuer+"/authorize?"+q.Encode(), nil, nil)
			m := signinRequest.FindSubmatch(resp.Body)
			if m == nil {
				t.Fatalf("authorize with login_hint %q: %d %s", hint, resp.Status, resp.Body)
			}
			json.Unmarshal(m[1], &req)
			opts := req["options"].(map[string]any)
			if allowed := opts["allowCredentials"].([]any); len(allowed) != 0 {
				t.Errorf("login_hint %q lists credentials %v", hint, allowed)
			}
			delete(req, "id")
			delete(opts, "challenge")
			return resp.Status, nonces.ReplaceAll(bytes.Replace(resp.Body, m[1], nil, 1), nil), req
		}
		status, body, req := page("ada")
		if status != http.StatusOK {
			t.Errorf("authorize: %d", status)
		}
		for _, hint := range []string{"nobody", ""} {
			s, b, r := page(hint)
			if s != status || !bytes.Equal(b, body) {
				t.Errorf("login_hint %q: %d %s\nada's: %d %s", hint, s, b, status, body)
			}
			if !reflect.DeepEqual(r, req) {
				t.Errorf("login_hint %q: sign-in %v, ada's %v", hint, r, req)
			}
		}

		e.api.ok(t, "PUT", "/realms/"+f.realm+"/policy", map[string]any{"default_effect": "allow"})
		q := signInQuery(f.clientID, f.callback)
		q.Set("login_hint", "ada")
		if answer := f.ada.signIn(t, f.issuer, q); answer["redirect"] == nil || answer["status"] != nil {
			t.Errorf("sign-in with login_hint: %v", answer)
		}
	})
}
