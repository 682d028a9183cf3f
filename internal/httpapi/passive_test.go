package httpapi_test

import (
	"encoding/base64"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	crewsaml "github.com/crewjam/saml"

	"github.com/latchkey/latchkey/internal/session"
)

// TestSAMLIsPassive: over HTTP, a signed AuthnRequest with IsPassive="true"
// from a samlsp SP (a generic_saml SSO config) is answered without a page
// to sign in: without a session, the form that posts a Response of status
// NoPassive to the ACS URL; with the browser's session, a Response that
// the SP accepts.
func TestSAMLIsPassive(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		n, c := e.node, e.api
		realm := newRealm(t, c, "Pets")
		ada := str(t, newIdentity(t, c, realm, "ada", "primary_email_address", "ada@example.com"), "id")
		app := startSSOSAMLApp(t, n, c, realm, "HR")
		if resp := c.do(t, "POST", "/realms/"+realm+"/sso-configs/"+app.configID+":addIdentities", map[string]any{"identity_ids": []string{ada}}); resp.Status != http.StatusOK {
			t.Fatalf(":addIdentities: %d %s", resp.Status, resp.Body)
		}
		sp := &app.mw.ServiceProvider
		passive := func(cookie string) (*crewsaml.AuthnRequest, string) {
			t.Helper()
			req, err := sp.MakeAuthenticationRequest(n.URL+app.path+"/sso", crewsaml.HTTPRedirectBinding, crewsaml.HTTPPostBinding)
			if err != nil {
				t.Fatal(err)
			}
			yes := true
			req.IsPassive = &yes
			u, err := req.Redirect("", sp)
			if err != nil {
				t.Fatal(err)
			}
			status, body := getPage(t, n, "GET", strings.TrimPrefix(u.String(), n.URL), cookie, "")
			m := regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`).FindStringSubmatch(body)
			if status != http.StatusOK || m == nil || strings.Contains(body, `id="signin"`) {
				t.Fatalf("a passive request: %d, no Response form: %s", status, body)
			}
			raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			return req, string(raw)
		}
		_, raw := passive("")
		if !strings.Contains(raw, crewsaml.StatusNoPassive) || strings.Contains(raw, "Assertion ") {
			t.Errorf("without a session: %s", raw)
		}
		_, cookie, err := n.Sessions.Start(t.Context(), session.SignIn{TenantID: c.tenant, RealmID: realm, IdentityID: ada,
			CredentialID: "k", AMR: []string{"pop"}, ACR: "phr"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		req, raw := passive(session.CookieName + "=" + cookie)
		acs := sp.AcsURL
		if a, err := sp.ParseXMLResponse([]byte(raw), []string{req.ID}, acs); err != nil || a.Subject.NameID.Value != "ada@example.com" {
			t.Errorf("with a session, the SP reads %v, %v", a, err)
		}
	})
}
