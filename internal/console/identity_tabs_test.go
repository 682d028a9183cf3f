package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestIdentityTabs(t *testing.T) {
	capture := testenv.StartSMTP(t)
	forEachEngineWith(t, func(cfg *server.Config) { cfg.SMTPURL = capture.URL }, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Tabs", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		rp := "/realms/" + realm
		id := e.api(t, "POST", rp+"/identities", map[string]any{"identity": map[string]any{"display_name": "Ada",
			"traits": map[string]any{"type": "traits_v0", "username": "ada", "primary_email_address": "ada@example.com"}}})["id"].(string)
		group := e.api(t, "POST", rp+"/groups", map[string]any{"group": map[string]any{"display_name": "Engineers"}})["id"].(string)
		base := "/console/realms/" + realm + "/identities/" + id

		// Groups: join, then leave, as the API then shows.
		wantPage(t, e.get(t, base+"/groups"), http.StatusOK, "ada is in no group", `<option value="`+group+`">Engineers</option>`)
		p := e.follow(t, base+"/groups", url.Values{"group": {group}})
		wantPage(t, p, http.StatusOK, "ada added to Engineers.")
		members := e.api(t, "GET", rp+"/groups/"+group+":listMembers", nil)["identities"].([]any)
		if len(members) != 1 || members[0].(map[string]any)["id"] != id {
			t.Fatalf("members after join: %v", members)
		}
		wantPage(t, e.post(t, base+"/groups", url.Values{"group": {"0123456789abcdef"}}), http.StatusUnprocessableEntity, "Choose a group")
		p = e.follow(t, base+"/groups/"+group+"/remove", url.Values{})
		wantPage(t, p, http.StatusOK, "ada removed from Engineers.")
		if n := len(e.api(t, "GET", rp+"/groups/"+group+":listMembers", nil)["identities"].([]any)); n != 0 {
			t.Fatalf("%d members after leave", n)
		}

		// Add a passkey needs an authenticator config.
		wantPage(t, e.get(t, base+"/binding-jobs/new"), http.StatusOK, "no authenticator config yet")
		config := e.api(t, "POST", rp+"/authenticator-configs", map[string]any{"authenticator_config": map[string]any{
			"display_name": "Hosted", "config": map[string]any{"type": "hosted_web", "authentication_methods": []any{map[string]any{"type": "webauthn_passkey"}},
				"trusted_origins": []any{e.node.URL}}}})["id"].(string)
		wantPage(t, e.post(t, base+"/binding-jobs", url.Values{"authenticator_config_id": {"nope"}, "action": {"link"}}), http.StatusUnprocessableEntity, "Choose an authenticator config.")

		// Generate curl makes nothing, and names the right ids.
		p = e.post(t, base+"/binding-jobs", url.Values{"authenticator_config_id": {config}, "action": {"curl"}})
		wantPage(t, p, http.StatusOK, "/realms/"+realm+"/identities/"+id+"/credential-binding-jobs", `&#34;authenticator_config_id&#34;:&#34;`+config)
		jobs := func() []any {
			return e.api(t, "GET", rp+"/identities/"+id+"/credential-binding-jobs", nil)["credential_binding_jobs"].([]any)
		}
		if n := len(jobs()); n != 0 {
			t.Fatalf("curl made %d jobs", n)
		}

		// Create link shows the link once; e-mail twice in a row sends once.
		p = e.post(t, base+"/binding-jobs", url.Values{"authenticator_config_id": {config}, "action": {"link"}})
		wantPage(t, p, http.StatusCreated, "Binding link")
		link := regexp.MustCompile(`<pre id="binding-link">([^<]+)</pre>`).FindStringSubmatch(p.body)
		if link == nil || !strings.HasPrefix(link[1], e.node.URL) {
			t.Fatalf("no link on %s", excerpt(p.body))
		}
		wantPage(t, e.follow(t, base+"/binding-jobs", url.Values{"authenticator_config_id": {config}, "action": {"email"}}), http.StatusOK, "Binding link e-mailed to ada@example.com.")
		wantPage(t, e.follow(t, base+"/binding-jobs", url.Values{"authenticator_config_id": {config}, "action": {"email"}}), http.StatusOK, "it was not sent twice")
		if n := len(jobs()); n != 2 {
			t.Fatalf("%d jobs, want the RETURN and one EMAIL", n)
		}

		// The jobs tab lists them, as a fragment for "Refresh list" too; revoke one.
		tab := e.get(t, base+"/binding-jobs")
		wantPage(t, tab, http.StatusOK, `data-state="LINK_SENT"`, "Refresh list")
		jobID := jobs()[0].(map[string]any)["id"].(string)
		p = e.follow(t, base+"/binding-jobs/"+jobID+"/revoke", url.Values{})
		wantPage(t, p, http.StatusOK, "Binding job revoked", `data-state="REVOKED"`)
		req, _ := http.NewRequest("GET", e.url+base+"/binding-jobs", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "jobs")
		if frag := e.do(t, req); strings.Contains(frag.body, "<html") || !strings.Contains(frag.body, `data-state="REVOKED"`) {
			t.Fatalf("refresh fragment: %s", excerpt(frag.body))
		}
		wantPage(t, e.get(t, base+"/passkeys"), http.StatusOK, "No passkey is bound yet.")
	})
}
