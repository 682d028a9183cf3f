package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/audit"
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

// TestSignIns: the Sign-ins page lists allowed and denied sign-ins with
// who, where to, why and from where, filters them, and links each to its
// whole sign-in.
func TestSignIns(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		realm := e.api(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Signed", "classification": "SECURE_CUSTOMER"}})["id"].(string)
		dana := e.api(t, "POST", "/realms/"+realm+"/identities", map[string]any{"identity": map[string]any{"display_name": "Dana Scully",
			"traits": map[string]any{"type": "traits_v0", "username": "dana"}}})["id"].(string)
		ctx, now := t.Context(), time.Now()
		// What the OP records of two sign-ins (internal/oauth writes these
		// in its sign-ins; here the page's reading is under test).
		signIn := func(action, correlation, reason, ip string, at time.Time) {
			ev := audit.NewAt(ctx, at, e.tenant(), realm, action, "Application", "wiki-app")
			ev.ResourceDisplayName, ev.ApplicationID, ev.CorrelationID = "Wiki", "wiki-app", correlation
			ev.ActorType, ev.ActorID, ev.ActorDisplayName, ev.IdentityID = "identity", dana, "Dana Scully", dana
			ev.ClientIP, ev.UserAgent, ev.Reason = ip, "Mozilla/5.0 (X11) Chrome/156", reason
			ev.Outcome = map[string]string{audit.SignInAllowed: audit.Allowed, audit.SignInDenied: audit.Denied}[action]
			if err := e.node.Store.RecordEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		signIn(audit.SignInStarted, "first", "", "192.0.2.1", now)
		signIn(audit.SignInDenied, "first", "Dana is not in a group the policy allows", "192.0.2.1", now.Add(time.Second))
		signIn(audit.SignInAllowed, "second", "", "198.51.100.7", now.Add(2*time.Second))

		base := "/console/realms/" + realm + "/sign-ins"
		p := e.get(t, base)
		wantPage(t, p, http.StatusOK, "Dana Scully", "Wiki", "<strong>denied</strong><br>Dana is not in a group the policy allows",
			"<strong>allowed</strong>", "192.0.2.1", "Chrome/156", `href="/console/realms/`+realm+`/events?correlation=first"`,
			`href="/console/realms/`+realm+`/identities/`+dana+`"`)
		if strings.Count(p.body, "<tr>") != 3 { // the header and the two outcomes: no sign_in.started
			t.Errorf("the page lists %d rows: %s", strings.Count(p.body, "<tr>")-1, excerpt(p.body))
		}
		if strings.Index(p.body, "<strong>allowed</strong>") > strings.Index(p.body, "<strong>denied</strong>") {
			t.Error("the sign-ins are not newest first")
		}
		p = e.get(t, base+"?outcome=denied&identity="+dana)
		wantPage(t, p, http.StatusOK, "<strong>denied</strong>", `<option value="denied" selected>`)
		if strings.Contains(p.body, "<strong>allowed</strong>") {
			t.Error("the denied filter lists an allowed sign-in")
		}
		wantPage(t, e.get(t, base+"?ip=198.51.100.7"), http.StatusOK, "<strong>allowed</strong>")
		wantPage(t, e.get(t, base+"?application=another-app"), http.StatusOK, "No sign-in matches.")
		// The detail: the whole sign-in, started and denied.
		p = e.get(t, "/console/realms/"+realm+"/events?correlation=first")
		wantPage(t, p, http.StatusOK, "<code>sign_in.started</code>", "<code>sign_in.denied</code>")
		if strings.Contains(p.body, "sign_in.allowed") {
			t.Error("the sign-in's details list another sign-in's event")
		}
	})
}

// TestSignInsScopes: the Sign-ins page needs events:read; a filter of
// hostile text is a value like any other, never a 500.
func TestSignInsScopes(t *testing.T) {
	e := start(t, "sqlite", "realms:read identities:read")
	wantPage(t, e.get(t, "/console/realms/"+e.admin()+"/sign-ins"), http.StatusForbidden, "does not grant")
	e = start(t, "sqlite", "realms:read events:read")
	hostile := url.QueryEscape("a\x00\"b) or (" + strings.Repeat("x", 5000))
	wantPage(t, e.get(t, "/console/realms/"+e.admin()+"/sign-ins?identity="+hostile+"&outcome=denied"), http.StatusOK, "No sign-in matches.")
}
