package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestKeyRotation: after a rotation the JWKS publishes the new key of each
// algorithm and the previous one; tokens of the previous key still work,
// and after a second rotation they do not.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		// kids lists the published key ids of each algorithm.
		kids := func() map[string][]string {
			resp := send(t, "GET", e.issuer()+"/.well-known/jwks.json", nil, nil)
			var set struct{ Keys []struct{ Kid, Alg string } }
			json.Unmarshal(resp.Body, &set)
			out := map[string][]string{}
			for _, k := range set.Keys {
				out[k.Alg] = append(out[k.Alg], k.Kid)
			}
			return out
		}
		kid := func(token string) string {
			header, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
			var h struct{ Kid string }
			json.Unmarshal(header, &h)
			return h.Kid
		}
		first := e.node.Token(t, "")
		before := kids()
		if len(before) != 2 || len(before["RS256"]) != 1 || len(before["ES256"]) != 1 || kid(first) != before["RS256"][0] {
			t.Fatalf("keys before %v, token kid %s", before, kid(first))
		}
		newKids, err := e.node.OAuth.RotateKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		second := e.node.Token(t, "")
		got := kids()
		for i, alg := range []string{"RS256", "ES256"} {
			if len(got[alg]) != 2 || !slices.Contains(got[alg], newKids[i]) || !slices.Contains(got[alg], before[alg][0]) {
				t.Errorf("after a rotation: %s keys %v, new %s", alg, got[alg], newKids[i])
			}
		}
		if kid(second) != newKids[0] {
			t.Errorf("after a rotation the token's kid is %s, want %s", kid(second), newKids[0])
		}
		if s := e.api.withToken(first).do(t, "GET", "", nil).Status; s != http.StatusOK {
			t.Errorf("a token of the previous key after one rotation: %d", s)
		}
		if _, err := e.node.OAuth.RotateKeys(t.Context()); err != nil {
			t.Fatal(err)
		}
		got = kids()
		for _, alg := range []string{"RS256", "ES256"} {
			if len(got[alg]) != 2 || slices.Contains(got[alg], before[alg][0]) {
				t.Errorf("after two rotations the first %s key is still published: %v", alg, got[alg])
			}
		}
		if s := e.api.withToken(first).do(t, "GET", "", nil).Status; s != http.StatusUnauthorized {
			t.Errorf("a token of a retired key: %d, want 401", s)
		}
		if s := e.api.withToken(second).do(t, "GET", "", nil).Status; s != http.StatusOK {
			t.Errorf("a token of the previous key after the second rotation: %d", s)
		}
	})
}
