package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/console"
)

func TestEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Audited", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		base := "/console/realms/" + realm + "/events"
		// The console's own action, by the session's actor.
		e.follow(t, "/console/realms/"+realm+"/identities", url.Values{"traits.username": {"ada"}})
		ada := e.api(t, "GET", "/realms/"+realm+"/identities", nil)["identities"].([]any)[0].(map[string]any)["id"].(string)
		group := e.api(t, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": "Staff"}})["id"].(string)
		actor := e.node.Creds().ApplicationID // the session's token is the management application's

		p := e.get(t, base)
		wantPage(t, p, http.StatusOK, "<code>identity.create</code>", `href="/console/realms/`+realm+`/identities/`+ada+`"`,
			`href="/console/realms/`+realm+`/groups/`+group+`"`, "application Latchkey Management API <a", "<code>"+actor+"</code>")
		// Newest first: the group came after the identity.
		if strings.Index(p.body, "group.create") > strings.Index(p.body, "identity.create") {
			t.Fatal("the events are not newest first")
		}

		// Readable: names, what an update changed, and times with seconds.
		e.api(t, "PATCH", "/realms/"+realm+"/identities/"+ada, map[string]any{"identity": map[string]any{"status": "suspended"}})
		p = e.get(t, base+"?action=identity.update")
		wantPage(t, p, http.StatusOK, "<code>identity.update</code>", "<code>status</code>: active → suspended")
		if !regexp.MustCompile(`\d\d:\d\d:\d\d UTC`).MatchString(p.body) {
			t.Errorf("the events page shows no seconds: %s", excerpt(p.body))
		}

		// The identity's Activity tab: its events only.
		p = e.get(t, "/console/realms/"+realm+"/identities/"+ada)
		wantPage(t, p, http.StatusOK, `href="/console/realms/`+realm+`/events?identity=`+ada+`"`)
		p = e.get(t, base+"?identity="+ada)
		wantPage(t, p, http.StatusOK, "<code>identity.create</code>", "<code>identity.update</code>", "Activity of identity")
		if strings.Contains(p.body, "group.create") {
			t.Fatal("the identity's activity lists group events")
		}

		// Filters: by action prefix, resource type and actor.
		p = e.get(t, base+"?action=identity.")
		wantPage(t, p, http.StatusOK, "<code>identity.create</code>", `value="identity."`)
		if strings.Contains(p.body, "group.create") {
			t.Fatal("the identity. filter lists group events")
		}
		p = e.get(t, base+"?resource_type=Group")
		wantPage(t, p, http.StatusOK, "<code>group.create</code>")
		if strings.Contains(p.body, "identity.create") {
			t.Fatal("the Group filter lists identity events")
		}
		wantPage(t, e.get(t, base+"?actor="+actor), http.StatusOK, "<code>group.create</code>")
		wantPage(t, e.get(t, base+"?actor=someone-else"), http.StatusOK, "No event matches.")

		// Paging: a full page, then the older events after its last one, the
		// filter kept.
		for i := range console.PageSize {
			e.api(t, "POST", "/realms/"+realm+"/groups", map[string]any{"group": map[string]any{"display_name": fmt.Sprintf("G%02d", i)}})
		}
		p = e.get(t, base+"?resource_type=Group")
		if n := strings.Count(p.body, "<code>group.create</code>"); n != console.PageSize {
			t.Fatalf("the first page has %d events", n)
		}
		next := regexp.MustCompile(`<a href="([^"]+)">Older events</a>`).FindStringSubmatch(p.body)
		if next == nil {
			t.Fatalf("no next page link: %s", excerpt(p.body))
		}
		p = e.get(t, strings.ReplaceAll(next[1], "&amp;", "&"))
		wantPage(t, p, http.StatusOK, `href="/console/realms/`+realm+`/groups/`+group+`"`)
		if n := strings.Count(p.body, "<code>group.create</code>"); n != 1 || strings.Contains(p.body, "Older events") {
			t.Fatalf("the second page has %d events: %s", n, excerpt(p.body))
		}
	})
}
