package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/nodecache"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		c := e.api
		realm, app := e.adminRealm(), e.app()
		path := "/realms/" + realm + "/policy"

		p := c.get(t, "/realms/"+newRealm(t, c, "Fresh")+"/policy")
		if p["default_effect"] != "deny" || len(items(t, p, "rules")) != 0 {
			t.Errorf("policy of a realm that never had one: %v", p)
		}

		admins := newGroup(t, c, realm, "Administrators")
		alice := str(t, newIdentity(t, c, realm, "alice"), "id")
		mallory := str(t, newIdentity(t, c, realm, "mallory"), "id")
		bob := str(t, newIdentity(t, c, realm, "bob"), "id")
		c.post(t, "/realms/"+realm+"/groups/"+admins+":addMembers", map[string]any{"identity_ids": []string{alice, mallory}})

		put := c.ok(t, "PUT", path, map[string]any{"policy": map[string]any{"default_effect": "deny", "rules": []any{
			map[string]any{"effect": "deny", "applications": []string{"*"}, "identities": []string{mallory}, "description": "Left the company"},
			map[string]any{"effect": "allow", "applications": []string{app}, "groups": []string{admins}},
		}}})
		if len(items(t, put, "rules")) != 2 || put["realm_id"] != realm {
			t.Errorf("put %v", put)
		}

		evaluate := func(identity string) map[string]any {
			return c.post(t, path+":evaluate", map[string]any{"identity_id": identity, "application_id": app})
		}
		for _, tc := range []struct {
			name, identity, reason string
			allowed                bool
			rule                   any
		}{
			{"a member of the allowed group", alice, "rule 2 (allow) names its group Administrators", true, 1.0},
			{"an identity denied by name", mallory, "rule 1 (deny) names the identity", false, 0.0},
			{"an identity no rule names", bob, "no rule matches; the realm's default is deny", false, nil},
		} {
			d := evaluate(tc.identity)
			if d["allowed"] != tc.allowed || d["reason"] != tc.reason || d["rule_index"] != tc.rule {
				t.Errorf("%s: %v", tc.name, d)
			}
		}
		c.patch(t, "/realms/"+realm+"/identities/"+alice, map[string]any{"identity": map[string]any{"status": "suspended"}})
		if d := evaluate(alice); d["allowed"] != false || d["reason"] != "the identity is suspended" {
			t.Errorf("suspended: %v", d)
		}

		// A realm default of allow lets in whom no rule names.
		c.ok(t, "PUT", path, map[string]any{"default_effect": "allow", "rules": []any{}})
		if d := evaluate(bob); d["allowed"] != true {
			t.Errorf("default allow: %v", d)
		}

		for _, bad := range []struct {
			rule        map[string]any
			field, desc string
		}{
			{map[string]any{"effect": "maybe", "applications": []string{"*"}}, "policy.rules[0].effect", `must be "allow" or "deny"`},
			{map[string]any{"effect": "allow", "applications": []string{}}, "policy.rules[0].applications", `must name at least one application, or "*" for all`},
			{map[string]any{"effect": "allow", "applications": []string{"*", app}}, "policy.rules[0].applications", `"*" stands alone`},
			{map[string]any{"effect": "allow", "applications": []string{"00000000-0000-4000-8000-000000000000"}}, "policy.rules[0].applications", "application 00000000-0000-4000-8000-000000000000 is not in the realm"},
			{map[string]any{"effect": "allow", "applications": []string{"*"}, "groups": []string{"0123456789abcdef"}}, "policy.rules[0].groups", "group 0123456789abcdef is not in the realm"},
			{map[string]any{"effect": "allow", "applications": []string{"*"}, "identities": []string{"0123456789abcdef"}}, "policy.rules[0].identities", "identity 0123456789abcdef is not in the realm"},
		} {
			assertInvalid(t, c.do(t, "PUT", path, map[string]any{"policy": map[string]any{"default_effect": "deny", "rules": []any{bad.rule}}}), bad.field, bad.desc)
		}
		assertInvalid(t, c.do(t, "PUT", path, map[string]any{"policy": map[string]any{"default_effect": "perhaps"}}), "policy.default_effect", `must be "allow" or "deny"`)
		if p := c.get(t, path); p["default_effect"] != "allow" || len(items(t, p, "rules")) != 0 {
			t.Errorf("refused puts changed the policy: %v", p)
		}

		assertNotFound(t, c.do(t, "POST", path+":evaluate", map[string]any{"identity_id": "0123456789abcdef", "application_id": app}),
			"Identity", "0123456789abcdef", "identity not found")
		assertNotFound(t, c.do(t, "POST", path+":evaluate", map[string]any{"identity_id": bob, "application_id": "nope"}),
			"Application", "nope", "application not found")
		reader := c.withToken(e.node.Token(t, "policy:read"))
		assertBareError(t, reader.do(t, "PUT", path, map[string]any{"default_effect": "deny"}), http.StatusForbidden, "forbidden", "forbidden")
	})
}

// TestPolicyOnAnotherNode: a node caches realm policies for nodecache.TTL.
// A policy put on another node decides on it within that bound.
func TestPolicyOnAnotherNode(t *testing.T) {
	t.Parallel()
	forEachEngine(t, nil, func(t *testing.T, e *env) {
		other := e.anotherNode(t)
		c := e.api
		there := c
		there.base = other.URL
		realm := newRealm(t, c, "Cached")
		app, _, _ := oidcClient(t, e.node, realm, "https://app.example.com/cb")
		bob := str(t, newIdentity(t, c, realm, "bob"), "id")
		path := "/realms/" + realm + "/policy"
		c.ok(t, "PUT", path, map[string]any{"default_effect": "allow", "rules": []any{}})
		evaluate := func() any {
			return there.post(t, path+":evaluate", map[string]any{"identity_id": bob, "application_id": app})["allowed"]
		}
		if evaluate() != true { // the other node caches the policy
			t.Fatal("the allowing policy does not allow on the other node")
		}
		c.ok(t, "PUT", path, map[string]any{"default_effect": "deny", "rules": []any{}})
		put := time.Now()
		for evaluate() != false {
			if time.Since(put) > nodecache.TTL+time.Second {
				t.Fatalf("the other node still allows %v after the policy changed", time.Since(put))
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
