package console_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latchkey/latchkey/internal/session"
)

// TestIdentitySessions: the Sessions tab lists an identity's live sessions
// with the applications' names; an administrator ends one, then signs the
// identity out everywhere, as the API then shows.
func TestIdentitySessions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Tabs", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		rp := "/realms/" + realm
		id := e.api(t, "POST", rp+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada",
			"traits": map[string]any{"type": "traits_v0", "username": "ada"}}})["id"].(string)
		base := "/console/realms/" + realm + "/identities/" + id
		wantPage(t, e.get(t, base+"/sessions"), http.StatusOK, "ada has no live session")

		var started []session.Session
		for _, ua := range []string{"Firefox on the laptop", "Safari on the phone"} {
			v, _, err := e.node.Sessions.Start(t.Context(), session.SignIn{TenantID: e.tenant(), RealmID: realm, IdentityID: id,
				CredentialID: "key", AMR: []string{"pop"}, ACR: "phr", IP: "192.0.2.7", UserAgent: ua}, nil)
			if err != nil {
				t.Fatal(err)
			}
			started = append(started, v)
		}
		wantPage(t, e.get(t, base+"/sessions"), http.StatusOK, `id="session-`+started[0].ID+`"`, `id="session-`+started[1].ID+`"`,
			"Safari on the phone", "192.0.2.7", "Sign out everywhere")

		p := e.follow(t, base+"/sessions/"+started[0].ID+"/end", url.Values{})
		wantPage(t, p, http.StatusOK, "Session ended", `id="session-`+started[1].ID+`"`)
		if got := e.api(t, "GET", rp+"/identities/"+id+"/sessions", nil)["sessions"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != started[1].ID {
			t.Fatalf("the API lists %v after one ended", got)
		}
		wantPage(t, e.post(t, base+"/sessions/"+started[0].ID+"/end", url.Values{}), http.StatusNotFound)

		p = e.follow(t, base+"/sessions/end", url.Values{})
		wantPage(t, p, http.StatusOK, "ada is signed out everywhere (1 session ended).", "ada has no live session")
		if got := e.api(t, "GET", rp+"/identities/"+id+"/sessions", nil)["sessions"].([]any); len(got) != 0 {
			t.Fatalf("the API lists %v after signing out everywhere", got)
		}
	})
}
