package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantEvent is an event a mutating request should have recorded.
type wantEvent struct {
	request                      int // index of the request, in the order they were sent
	requestID                    string
	action, resourceType, target string
}

func TestEvents(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		var want []wantEvent
		requestIDs := map[string]bool{}
		// mutate sends a request that must succeed, and notes the events it should record.
		mutate := func(c client, method, path string, body any, events ...[3]string) map[string]any {
			t.Helper()
			resp := c.do(t, method, path, body)
			if resp.Status != http.StatusOK {
				t.Fatalf("%s %s: status %d: %s", method, path, resp.Status, resp.Body)
			}
			rid := resp.Header.Get("X-Request-Id")
			if rid == "" || requestIDs[rid] {
				t.Fatalf("%s %s: X-Request-Id %q is missing or not unique", method, path, rid)
			}
			requestIDs[rid] = true
			n := len(requestIDs)
			for _, ev := range events {
				want = append(want, wantEvent{request: n, requestID: rid, action: ev[0], resourceType: ev[1], target: ev[2]})
			}
			if len(resp.Body) == 0 {
				return nil
			}
			return resp.JSON(t)
		}
		ev := func(action, resourceType, id string) [3]string { return [3]string{action, resourceType, id} }

		// realm.create is recorded in the new realm; it is checked apart, below.
		created := api.do(t, "POST", "/realms", map[string]any{"realm": map[string]any{"display_name": "Audited"}})
		realm := str(t, created.JSON(t), "id")
		base := "/realms/" + realm
		mutate(api, "PATCH", base, map[string]any{"realm": map[string]any{"display_name": "Audited Realm"}}, ev("realm.update", "Realm", realm))
		var idn []string
		for _, u := range []string{"a", "b", "c"} {
			body := map[string]any{"identity": map[string]any{"display_name": u, "traits": map[string]any{"username": u}}}
			// The id is known only from the answer: fill it in afterwards.
			m := mutate(api, "POST", base+"/identities", body, ev("identity.create", "Identity", ""))
			want[len(want)-1].target = str(t, m, "id")
			idn = append(idn, str(t, m, "id"))
		}
		a, b, c := idn[0], idn[1], idn[2]
		custom := api.withHeader("X-Request-Id", "req-custom_1.2")
		mutate(custom, "PATCH", base+"/identities/"+a, map[string]any{"identity": map[string]any{"status": "suspended"}},
			ev("identity.update", "Identity", a))
		g := mutate(api, "POST", base+"/groups", map[string]any{"group": map[string]any{"display_name": "Audited Group"}},
			ev("group.create", "Group", ""))
		gid := str(t, g, "id")
		want[len(want)-1].target = gid
		mutate(api, "PATCH", base+"/groups/"+gid, map[string]any{"group": map[string]any{"description": "Watched."}}, ev("group.update", "Group", gid))
		mutate(api, "POST", base+"/groups/"+gid+":addMembers", map[string]any{"identity_ids": []string{a, b}}, ev("group.add_members", "Group", gid))
		mutate(api, "POST", base+"/groups/"+gid+":deleteMembers", map[string]any{"identity_ids": []string{a}}, ev("group.delete_members", "Group", gid))
		mutate(api, "DELETE", base+"/identities/"+c, nil, ev("identity.delete", "Identity", c))
		mutate(api, "POST", base+"/identities:batchDelete", map[string]any{"ids": []string{a, b}},
			ev("identity.delete", "Identity", a), ev("identity.delete", "Identity", b))
		mutate(api, "DELETE", base+"/groups/"+gid, nil, ev("group.delete", "Group", gid))

		// Failed mutations record nothing.
		failed := api.withHeader("X-Request-Id", "req-failed")
		if resp := failed.do(t, "DELETE", base+"/groups/"+gid, nil); resp.Status != http.StatusNotFound {
			t.Fatalf("status %d", resp.Status)
		}
		if resp := failed.do(t, "POST", base+"/identities", `{"identity":{}}`); resp.Status != http.StatusBadRequest {
			t.Fatalf("status %d", resp.Status)
		}
		if resp := api.withHeader("X-Request-Id", "not valid!").do(t, "GET", base, nil); resp.Header.Get("X-Request-Id") == "not valid!" ||
			resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("an invalid X-Request-Id was echoed as %q", resp.Header.Get("X-Request-Id"))
		}
		if got := api.withHeader("X-Request-Id", strings.Repeat("r", 65)).do(t, "GET", base, nil).Header.Get("X-Request-Id"); len(got) > 64 {
			t.Errorf("a 65-character X-Request-Id was echoed")
		}

		events := api.listAll(t, base+"/events", "events")
		if len(events) != len(want)+1 {
			t.Errorf("%d events, want %d (realm.create and %d more)", len(events), len(want)+1, len(want))
		}
		var last time.Time
		for i, got := range events {
			// Always these; the names and changes when known.
			for _, k := range []string{"id", "tenant_id", "realm_id", "actor_type", "actor_id", "actor_display_name", "action",
				"resource_type", "resource_id", "request_id", "client_ip", "user_agent", "create_time"} {
				if got[k] == nil {
					t.Errorf("event %v lacks %s", got, k)
				}
			}
			if got["actor_type"] != "application" || got["actor_id"] != e.app() || got["tenant_id"] != e.tenant() || got["realm_id"] != realm {
				t.Errorf("event %v: want actor application %s in realm %s", got, e.app(), realm)
			}
			ts := assertTime(t, got, "create_time")
			if i > 0 && (ts.After(last) || str(t, got, "id") >= str(t, events[i-1], "id")) {
				t.Errorf("event %d (%v) is not older than the one before (%v)", i, got, events[i-1])
			}
			last = ts
		}
		if len(events) == 0 {
			t.Fatal("no events")
		}
		// Oldest: the realm's creation.
		first := events[len(events)-1]
		if first["action"] != "realm.create" || first["resource_type"] != "Realm" || first["resource_id"] != realm ||
			first["request_id"] != created.Header.Get("X-Request-Id") {
			t.Errorf("oldest event %v, want realm.create", first)
		}
		// Every expected event once, newest request first.
		prev := len(requestIDs) + 1
		for _, got := range events[:len(events)-1] {
			i := slices.IndexFunc(want, func(w wantEvent) bool {
				return w.requestID == got["request_id"] && w.action == got["action"] && w.resourceType == got["resource_type"] && w.target == got["resource_id"]
			})
			if i < 0 {
				t.Errorf("unexpected event %v", got)
				continue
			}
			if want[i].request > prev {
				t.Errorf("event %v is listed after an event of a later request", got)
			}
			prev = want[i].request
			want = slices.Delete(want, i, i+1)
		}
		for _, w := range want {
			t.Errorf("missing event %s %s %s (request %s)", w.action, w.resourceType, w.target, w.requestID)
		}

		filter := func(t *testing.T, f string) []map[string]any {
			t.Helper()
			return api.listAll(t, base+"/events", "events", "filter", f)
		}
		t.Run("filters", func(t *testing.T) {
			var created []string
			for _, ev := range filter(t, `action eq "identity.create"`) {
				created = append(created, str(t, ev, "resource_id"))
			}
			assertSameSet(t, "identity.create", created, []string{a, b, c})
			var actions []string
			for _, ev := range filter(t, `resource_id eq "`+gid+`"`) {
				actions = append(actions, str(t, ev, "action"))
			}
			if want := []string{"group.delete", "group.delete_members", "group.add_members", "group.update", "group.create"}; !slices.Equal(actions, want) {
				t.Errorf("events of the group, newest first: %v, want %v", actions, want)
			}
			got := filter(t, `request_id eq "req-custom_1.2"`)
			if len(got) != 1 || got[0]["action"] != "identity.update" {
				t.Fatalf("events of the custom request id: %v", got)
			}
			// Readable: the names as they were, and what the update changed.
			changes, _ := got[0]["changes"].(map[string]any)
			status, _ := changes["status"].(map[string]any)
			if got[0]["resource_display_name"] != "a" || got[0]["actor_display_name"] == nil || len(changes) != 1 ||
				status["old"] != "active" || status["new"] != "suspended" {
				t.Errorf("identity.update event %v, want the names and the status change", got[0])
			}
			if got := filter(t, `request_id eq "req-failed"`); len(got) != 0 {
				t.Errorf("failed requests recorded %v", got)
			}
			if got := filter(t, `action sw "group." and not (action eq "group.delete")`); len(got) != 4 {
				t.Errorf("group events but the delete: %d", len(got))
			}
			if got := filter(t, `actor_id eq "`+e.app()+`"`); len(got) != len(events) {
				t.Errorf("events of the application: %d, want %d", len(got), len(events))
			}
			// action and resource_type compare case-insensitively.
			if got := filter(t, `resource_type eq "group" and ACTION sw "GROUP.DELETE"`); len(got) != 2 {
				t.Errorf("group delete events, filtered in other cases: %d, want 2", len(got))
			}
			if got := filter(t, `create_time ge "`+str(t, events[1], "create_time")+`" and create_time le "`+str(t, events[0], "create_time")+`"`); len(got) < 2 {
				t.Errorf("events between the two newest: %d", len(got))
			}
			if got := filter(t, `create_time gt "2999-01-01T00:00:00Z"`); len(got) != 0 {
				t.Errorf("events after 2999: %v", got)
			}
			assertInvalid(t, api.do(t, "GET", base+"/events"+queryString("filter", `actor_type eq "application"`), nil), "filter", "")
			assertInvalid(t, api.do(t, "GET", base+"/events"+queryString("filter", `action eq`), nil), "filter", "")
			assertInvalid(t, api.do(t, "GET", base+"/events"+queryString("filter", `create_time ge "last week"`), nil), "filter", "")
			assertInvalid(t, api.do(t, "GET", base+"/events"+queryString("filter", `action gt "a"`), nil), "filter", "")
		})

		t.Run("paging", func(t *testing.T) {
			var walked []string
			p := api.list(t, base+"/events", "page_size", "3")
			for {
				got, next := pageIDs(t, p, "events")
				walked = append(walked, got...)
				if num(t, p, "total_size") != len(events) {
					t.Errorf("total_size %v, want %d", p["total_size"], len(events))
				}
				if next == "" || len(walked) > len(events) {
					break
				}
				p = api.list(t, base+"/events", "page_token", next)
			}
			if !slices.Equal(walked, ids(events)) {
				t.Errorf("pages of 3 gave %v, want %v", walked, ids(events))
			}
		})

		t.Run("token deletion is audited", func(t *testing.T) {
			creds := e.node.Creds()
			victim := e.node.Token(t, "realms:read")
			jti := str(t, verifyJWT(t, e, victim, "realms:read", 86400), "jti")
			resp := api.do(t, "DELETE", "/realms/"+creds.RealmID+"/applications/"+creds.ApplicationID+"/tokens/"+jti, nil)
			assertEmpty200(t, resp)
			got := api.listAll(t, "/realms/"+creds.RealmID+"/events", "events", "filter", `action eq "token.delete"`)
			if len(got) != 1 || got[0]["resource_id"] != jti || got[0]["resource_type"] != "Token" ||
				got[0]["request_id"] != resp.Header.Get("X-Request-Id") || got[0]["actor_id"] != e.app() {
				t.Errorf("token.delete events %v", got)
			}
		})

		t.Run("access", func(t *testing.T) {
			assertBareError(t, api.withToken(e.node.Token(t, "realms:read identities:read")).do(t, "GET", base+"/events", nil),
				http.StatusForbidden, "forbidden", "forbidden")
			api.withToken(e.node.Token(t, "events:read")).get(t, base+"/events")
			assertBareError(t, client{base: api.base, tenant: "0001ffffffffffff", token: api.token}.do(t, "GET", base+"/events", nil),
				http.StatusForbidden, "forbidden", "forbidden")
			assertNotFound(t, api.do(t, "GET", "/realms/ffffffffffffffff/events", nil), "Realm", "ffffffffffffffff", "realm not found")
		})
	})
}

// TestTenantEvents lists the events of the whole tenant: those with no realm
// (tenant.update) and those of a realm that no longer exists (realm.delete).
func TestTenantEvents(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		api := e.api
		api.patch(t, "", map[string]any{"tenant": map[string]any{"display_name": "Renamed"}})
		realm := str(t, api.post(t, "/realms", map[string]any{"realm": map[string]any{"display_name": "Short-lived"}}), "id")
		api.del(t, "/realms/"+realm)

		all := api.listAll(t, "/events", "events")
		if len(all) < 3 {
			t.Fatalf("tenant events: got %d, want at least tenant.update, realm.create, realm.delete", len(all))
		}
		if got := str(t, all[0], "action"); got != "realm.delete" {
			t.Errorf("newest tenant event is %q, want realm.delete", got)
		}
		actions := actionsOf(t, all)
		for _, want := range []string{"tenant.update", "realm.create", "realm.delete"} {
			if !slices.Contains(actions, want) {
				t.Errorf("tenant events %v lack %s", actions, want)
			}
		}
		ofRealm := api.listAll(t, "/events", "events", "filter", `realm_id eq "`+realm+`"`)
		assertSameSet(t, "events of the deleted realm", actionsOf(t, ofRealm), []string{"realm.create", "realm.delete"})
	})
}

func actionsOf(t testing.TB, events []map[string]any) []string {
	var out []string
	for _, ev := range events {
		out = append(out, str(t, ev, "action"))
	}
	return out
}

// TestUpdateChanges: every kind of update records the resource's name and
// the fields it changed, nested fields by their dotted names, and a secret
// only as changed.
func TestUpdateChanges(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm := newRealm(t, c, "Changes")
		base := "/realms/" + realm
		// lastChange is the newest event of action on resource id.
		lastChange := func(t *testing.T, action, id string) map[string]any {
			t.Helper()
			got := c.listAll(t, base+"/events", "events", "filter", `action eq "`+action+`" and resource_id eq "`+id+`"`)
			if len(got) == 0 {
				t.Fatalf("no %s event of %s", action, id)
			}
			return got[0]
		}
		wantChanges := func(t *testing.T, ev map[string]any, name string, want map[string][2]any) {
			t.Helper()
			changes, _ := ev["changes"].(map[string]any)
			if got, _ := ev["resource_display_name"].(string); got != name || len(changes) != len(want) {
				t.Errorf("%s event: name %v, changes %v; want %q and %v", ev["action"], ev["resource_display_name"], changes, name, want)
			}
			for field, w := range want {
				ch, _ := changes[field].(map[string]any)
				if fmt.Sprint(ch["old"]) != fmt.Sprint(w[0]) || fmt.Sprint(ch["new"]) != fmt.Sprint(w[1]) {
					t.Errorf("%s change of %s: %v, want %v → %v", ev["action"], field, ch, w[0], w[1])
				}
			}
		}

		c.patch(t, base, map[string]any{"realm": map[string]any{"display_name": "Changed"}})
		wantChanges(t, lastChange(t, "realm.update", realm), "Changed", map[string][2]any{"display_name": {"Changes", "Changed"}})

		g := str(t, c.post(t, base+"/groups", map[string]any{"group": map[string]any{"display_name": "Ops"}}), "id")
		c.patch(t, base+"/groups/"+g, map[string]any{"group": map[string]any{"display_name": "SRE"}})
		wantChanges(t, lastChange(t, "group.update", g), "SRE", map[string][2]any{"display_name": {"Ops", "SRE"}})

		app := c.post(t, base+"/applications", map[string]any{"application": map[string]any{"display_name": "Wiki",
			"protocol_config": map[string]any{"type": "oidc", "confidentiality": "confidential", "grant_type": []string{"authorization_code"},
				"redirect_uris": []string{"https://wiki.example/a"}, "pkce": "s256", "token_configuration": map[string]any{"expires_after": 3600}}}})
		appID := str(t, app, "id")
		c.patch(t, base+"/applications/"+appID, map[string]any{"application": map[string]any{
			"protocol_config": map[string]any{"redirect_uris": []string{"https://wiki.example/b"}}}})
		wantChanges(t, lastChange(t, "application.update", appID), "Wiki",
			map[string][2]any{"protocol_config.redirect_uris": {"[https://wiki.example/a]", "[https://wiki.example/b]"}})
		c.post(t, base+"/applications/"+appID+":regenerateSecret", nil)
		ev := lastChange(t, "application.update", appID)
		secret, _ := ev["changes"].(map[string]any)["protocol_config.client_secret"].(map[string]any)
		if secret["redacted"] != true || secret["old"] != nil || secret["new"] != nil {
			t.Errorf("a regenerated secret's change: %v", ev["changes"])
		}
		if strings.Contains(fmt.Sprint(ev), str(t, obj(t, app, "protocol_config"), "client_secret")) {
			t.Errorf("the event shows the old secret: %v", ev)
		}

		cfg := embeddedConfig(t, c, realm, "https://a.example")
		c.patch(t, base+"/authenticator-configs/"+cfg, map[string]any{"authenticator_config": map[string]any{
			"config": map[string]any{"type": "embedded", "invoke_url": "https://a.example", "trusted_origins": []string{"https://b.example"}}}})
		wantChanges(t, lastChange(t, "authenticator_config.update", cfg), "App",
			map[string][2]any{"config.trusted_origins": {"[https://a.example]", "[https://b.example]"}})

		c.ok(t, "PUT", base+"/policy", map[string]any{"default_effect": "allow"})
		wantChanges(t, lastChange(t, "policy.update", realm), "", map[string][2]any{"default_effect": {"deny", "allow"}})
	})
}
