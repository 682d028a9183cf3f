package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestKeyRotation: after a rotation the JWKS publishes the new key and the
// previous one; tokens of the previous key still work, and after a second
// rotation they do not.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		kids := func() []string {
			resp := send(t, "GET", e.issuer()+"/.well-known/jwks.json", nil, nil)
			var set struct{ Keys []struct{ Kid string } }
			json.Unmarshal(resp.Body, &set)
			var out []string
			for _, k := range set.Keys {
				out = append(out, k.Kid)
			}
			slices.Sort(out)
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
		if len(before) != 1 || kid(first) != before[0] {
			t.Fatalf("keys before %v, token kid %s", before, kid(first))
		}
		newKid, err := e.node.OAuth.RotateKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		second := e.node.Token(t, "")
		if got := kids(); len(got) != 2 || !slices.Contains(got, newKid) || kid(second) != newKid {
			t.Errorf("after a rotation: keys %v, new %s, token kid %s", got, newKid, kid(second))
		}
		if s := e.api.withToken(first).do(t, "GET", "", nil).Status; s != http.StatusOK {
			t.Errorf("a token of the previous key after one rotation: %d", s)
		}
		if _, err := e.node.OAuth.RotateKeys(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := kids(); len(got) != 2 || slices.Contains(got, before[0]) {
			t.Errorf("after two rotations the first key is still published: %v", got)
		}
		if s := e.api.withToken(first).do(t, "GET", "", nil).Status; s != http.StatusUnauthorized {
			t.Errorf("a token of a retired key: %d, want 401", s)
		}
		if s := e.api.withToken(second).do(t, "GET", "", nil).Status; s != http.StatusOK {
			t.Errorf("a token of the previous key after the second rotation: %d", s)
		}
	})
}
